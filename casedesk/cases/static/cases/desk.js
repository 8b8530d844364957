// Live countdowns on the desk: every element with data-due ticks each second, and its queue
// row (or case header) changes colour when the deadline comes within the hour or passes.
// The server renders the same text first, so the page works without this script.
(function () {
  "use strict";
  var SOON_MS = 60 * 60 * 1000;

  function two(n) { return (n < 10 ? "0" : "") + n; }

  // The same format as presenters.countdown: "in 1h 05m", "3m 07s overdue", "in 2d 4h".
  function text(ms) {
    var overdue = ms < 0;
    var total = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(total / 86400), rest = total % 86400;
    var hours = Math.floor(rest / 3600); rest = rest % 3600;
    var minutes = Math.floor(rest / 60), seconds = rest % 60;
    var body;
    if (days) { body = days + "d " + hours + "h"; }
    else if (hours) { body = hours + "h " + two(minutes) + "m"; }
    else { body = minutes + "m " + two(seconds) + "s"; }
    return overdue ? body + " overdue" : "in " + body;
  }

  function urgencyBox(el) { return el.closest("tr[data-urgency], .case-header"); }

  function setUrgency(box, level) {
    if (!box) { return; }
    // A breach flag set by the server stays: time can only make a row more urgent.
    var current = box.getAttribute("data-urgency") ||
      (box.className.match(/urgency-(\w+)/) || [])[1] || "fine";
    var order = { fine: 0, soon: 1, breached: 2 };
    if ((order[level] || 0) <= (order[current] || 0)) { return; }
    box.classList.remove("urgency-" + current);
    box.classList.add("urgency-" + level);
    if (box.hasAttribute("data-urgency")) { box.setAttribute("data-urgency", level); }
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var left = due - now;
      el.textContent = text(left);
      setUrgency(urgencyBox(el), left <= 0 ? "breached" : left <= SOON_MS ? "soon" : "fine");
    });
  }

  // The queue refreshes itself: new cases appear (marked), handled ones go, without a
  // reload that would lose the agent's place. Only while the tab is visible.
  function refreshQueue() {
    var live = document.getElementById("queue-live");
    if (!live || document.hidden) { return; }
    var seen = {};
    live.querySelectorAll("tr[data-reference]").forEach(function (row) {
      seen[row.getAttribute("data-reference")] = true;
    });
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("queue-live");
        if (!fresh) { return; }
        fresh.querySelectorAll("tr[data-reference]").forEach(function (row) {
          if (!seen[row.getAttribute("data-reference")]) { row.classList.add("arrived"); }
        });
        live.innerHTML = fresh.innerHTML;
        tick();
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }

  tick();
  setInterval(tick, 1000);
  var live = document.getElementById("queue-live");
  if (live) {
    var seconds = parseInt(live.getAttribute("data-refresh-seconds"), 10) || 30;
    setInterval(refreshQueue, seconds * 1000);
  }
})();
