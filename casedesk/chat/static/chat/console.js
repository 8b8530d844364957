/* The agents' chat console: the queue (refreshed by a heartbeat every 5 s, and at once
 * when the desk socket says it changed), and one card per chat the agent has. */
(function () {
  "use strict";
  const root = document.querySelector(".chat-console-root");
  if (!root) return;
  const origin = window.location.origin;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const available = root.querySelector(".available");
  const queue = root.querySelector("[data-testid=chat-queue]");
  const cards = root.querySelector("[data-testid=chat-cards]");
  const errorBox = root.querySelector(".cdchat-error");
  const open = {}; // session id -> {card, connection}
  let waiting = [];

  function error(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  let queueAt = Date.now();

  function waited(session) {
    // The server's count when the queue came, plus the time since (the browser's clock may be off).
    const seconds = Math.round(session.waited_seconds + (Date.now() - queueAt) / 1000);
    return seconds < 60 ? seconds + " s" : Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  }

  function renderQueue() {
    queue.textContent = "";
    waiting.forEach(function (session) {
      const item = document.createElement("li");
      const who = document.createElement("strong");
      who.textContent = session.customer;
      const org = document.createElement("span");
      org.className = "muted";
      org.textContent = " " + session.organization + " · waiting ";
      const time = document.createElement("span");
      time.className = "wait";
      time.textContent = waited(session);
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Accept";
      button.addEventListener("click", function () {
        CasedeskChat.post(origin + "/desk/chat/" + session.id + "/accept", csrf).then(function (json) {
          if (json.error) error(json.error);
          beat();
        });
      });
      item.append(who, org, time, document.createElement("br"), button);
      queue.appendChild(item);
    });
    root.querySelector(".queue-count").textContent = String(waiting.length);
    root.querySelector(".queue-empty").hidden = waiting.length > 0;
  }

  let switching = 0; // switches of "Available" on their way to the server

  function beat(flag) {
    const data = {};
    if (flag !== undefined) {
      data.available = flag ? "1" : "0";
      switching += 1;
    }
    return CasedeskChat.post(origin + "/desk/chat/heartbeat", csrf, data).then(function (json) {
      if (flag !== undefined) switching -= 1;
      if (json.error) return error(json.error);
      // The server's word (another tab of this agent may have switched it).
      if (!switching) available.checked = json.available;
      waiting = json.queue;
      queueAt = Date.now();
      renderQueue();
      root.querySelector(".chat-open-state").textContent = json.chat_open
        ? "Chat is open to customers."
        : json.support_open
          ? "Chat is closed: no agent is available."
          : "Chat is closed: outside support hours.";
      const mine = {};
      json.mine.forEach(function (session) {
        mine[session.id] = true;
        // A chat transferred back (its old card closed) gets a fresh card.
        if (!open[session.id] || open[session.id].closed) openCard(session);
        if (session.status !== "active") endedCard(session.id);
      });
      Object.keys(open).forEach(function (id) {
        if (!mine[id]) closeCard(id);
      });
    });
  }

  function closeCard(id) {
    const entry = open[id];
    if (!entry || entry.closed) return;
    entry.closed = true;
    entry.connection.stop();
    entry.card.classList.add("ended");
    entry.card.querySelectorAll("button, textarea, select, input").forEach(function (el) {
      el.disabled = true;
    });
  }

  // An ended chat not yet on a case: no more replies, but the agent can still open a
  // case from it or add it to one.
  function endedCard(id) {
    const entry = open[id];
    if (!entry || entry.closed) return;
    entry.card.querySelectorAll(".reply textarea, .reply select, .reply button, .transfer-to, .transfer, .end").forEach(
      function (el) {
        el.disabled = true;
      },
    );
  }

  function openCard(session) {
    const previous = open[session.id];
    if (previous) previous.card.remove();
    const card = document.getElementById("chat-card").content.firstElementChild.cloneNode(true);
    card.dataset.session = String(session.id);
    card.dataset.testid = "chat-card";
    card.querySelector(".who").textContent = session.customer;
    card.querySelector(".org").textContent = session.organization;
    const log = card.querySelector(".cdchat-log");
    const typing = card.querySelector(".cdchat-typing");
    let typingTimer = null;
    const connection = new CasedeskChat.Connection({
      origin: origin,
      sessionId: session.id,
      csrf: csrf,
      onReset: function () {
        log.textContent = "";
      },
      onMessage: function (message) {
        CasedeskChat.insertMessage(log, CasedeskChat.renderMessage(message, "agent"));
        if (message.role === "customer") typing.hidden = true;
      },
      onState: function (state) {
        card.querySelector(".cdchat-status").textContent = state.status === "active" ? "" : state.status;
        // The link from this console's own action (below) wins over the plain reference.
        const place = card.querySelector(".case-link");
        if (state.case && !place.querySelector("a")) place.textContent = "On case " + state.case;
      },
      onTyping: function (name) {
        typing.textContent = name + " is typing…";
        typing.hidden = false;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () {
          typing.hidden = true;
        }, 4000);
      },
      onError: error,
    });
    open[session.id] = { card: card, connection: connection, closed: false };
    const form = card.querySelector("form.reply");
    const box = form.querySelector("textarea");
    box.addEventListener("input", function () {
      connection.typing();
    });
    card.querySelector(".canned").addEventListener("change", function (event) {
      if (event.target.value) box.value = (box.value ? box.value + " " : "") + event.target.value;
      event.target.value = "";
      box.focus();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const text = box.value.trim();
      if (!text) return;
      box.value = "";
      connection.send(text);
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    function act(path, data) {
      return CasedeskChat.post(origin + "/desk/chat/" + session.id + "/" + path, csrf, data).then(function (json) {
        if (json.error) error(json.error);
        else error("");
        if (json.reference) {
          const link = document.createElement("a");
          link.href = json.url;
          link.textContent = "Case " + json.reference;
          const place = card.querySelector(".case-link");
          // Opening a case ends the chat: say so beside the case, as the customer is told.
          place.textContent = "Chat ended: ";
          place.append(link);
        }
        beat();
        return json;
      });
    }
    card.querySelector(".transfer").addEventListener("click", function () {
      act("transfer", { to: card.querySelector(".transfer-to").value });
    });
    card.querySelector(".to-case").addEventListener("click", function () {
      act("case", { subject: card.querySelector(".subject").value });
    });
    card.querySelector(".attach").addEventListener("click", function () {
      act("case", { reference: card.querySelector(".reference").value });
    });
    card.querySelector(".end").addEventListener("click", function () {
      act("end");
    });
    cards.appendChild(card);
    connection.start();
  }

  function desk() {
    if (!window.WebSocket) return;
    const url = new URL(origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.pathname = "/ws/desk/chat/";
    const socket = new WebSocket(url.toString());
    socket.onmessage = function () {
      beat();
    };
    socket.onclose = function (event) {
      if (event.wasClean === false && socket.everOpen) setTimeout(desk, 2000);
    };
    socket.onopen = function () {
      socket.everOpen = true;
    };
  }

  available.addEventListener("change", function () {
    beat(available.checked);
  });
  // The box shows the agent's kept choice (the page was drawn with it): say it again.
  beat(available.checked);
  setInterval(function () {
    beat();
  }, 5000);
  setInterval(function () {
    queue.querySelectorAll(".wait").forEach(function (element, index) {
      if (waiting[index]) element.textContent = waited(waiting[index]);
    });
  }, 1000);
  desk();
})();
