// Show each announced instant in the viewer's own time zone as well, when it
// differs from the calendar's: "(Tuesday 1 December, 14:00 in Europe/Berlin)".
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var fmt = new Intl.DateTimeFormat(undefined, {
    weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short"
  });
  document.querySelectorAll("[data-local-for]").forEach(function (el) {
    if (zone && zone === el.getAttribute("data-calendar-zone")) { return; }
    var when = new Date(el.getAttribute("data-local-for"));
    if (isNaN(when.getTime())) { return; }
    el.textContent = "Your time: " + fmt.format(when) + (zone ? " (" + zone + ")" : "");
  });
})();
