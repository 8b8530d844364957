/* casedesk chat widget. On the portal it is included by every page; in the vendor's own
 * product one tag adds it (same origin as casedesk, so the visitor's session cookie
 * goes along):
 *
 *   <script src="https://support.example.com/static/chat/widget.js" defer></script>
 *
 * It loads its stylesheet and transport.js from the same place, fetches the widget's
 * HTML from /chat/widget/ (open: start or resume a chat; offline: support hours, when
 * chat reopens, the three ways to open a critical case and a leave-a-message form) and
 * puts it in #casedesk-chat (created at the end of <body> when the page has none).
 */
(function () {
  "use strict";
  const script = document.currentScript;
  const origin = new URL(script ? script.src : "/", window.location.href).origin;

  function load(tag, attributes) {
    return new Promise(function (resolve, reject) {
      const element = document.createElement(tag);
      Object.keys(attributes).forEach(function (key) {
        element.setAttribute(key, attributes[key]);
      });
      element.onload = resolve;
      element.onerror = reject;
      document.head.appendChild(element);
    });
  }

  function init() {
    let root = document.getElementById("casedesk-chat");
    if (!root) {
      root = document.createElement("div");
      root.id = "casedesk-chat";
      document.body.appendChild(root);
    }
    const assets = [];
    if (!document.querySelector("link[data-casedesk-chat]")) {
      assets.push(load("link", { rel: "stylesheet", href: origin + "/static/chat/chat.css", "data-casedesk-chat": "" }));
    }
    if (!(window.CasedeskChat && window.CasedeskChat.Connection)) {
      assets.push(load("script", { src: origin + "/static/chat/transport.js" }));
    }
    const html = fetch(origin + "/chat/widget/", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("chat widget: " + r.status);
      return r.text();
    });
    Promise.all([html].concat(assets)).then(function (results) {
      root.innerHTML = results[0]; // casedesk's own escaped template
      new Widget(root.querySelector(".cdchat")).bind();
    });
  }

  function Widget(element) {
    this.el = element;
    this.q = function (selector) {
      return element.querySelector(selector);
    };
    const token = this.q("input[name=csrfmiddlewaretoken]");
    this.csrf = token ? token.value : "";
    this.connection = null;
    this.session = null;
    this.typingTimer = null;
  }

  Widget.prototype.bind = function () {
    const self = this;
    const q = this.q;
    const panel = q(".cdchat-panel");
    const toggle = q(".cdchat-toggle");
    toggle.addEventListener("click", function () {
      const opening = panel.hidden;
      panel.hidden = !opening;
      toggle.setAttribute("aria-expanded", String(opening));
      self.el.classList.toggle("cdchat-expanded", opening);
    });
    q(".cdchat-close").addEventListener("click", function () {
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      self.el.classList.remove("cdchat-expanded");
    });
    const start = q(".cdchat-start");
    if (start) {
      start.addEventListener("click", function () {
        start.disabled = true;
        CasedeskChat.post(origin + "/chat/start", self.csrf).then(function (json) {
          start.disabled = false;
          if (json.error) return self.error(json.error);
          self.open(json.session.id);
        });
      });
      if (this.el.dataset.session) this.open(this.el.dataset.session);
    }
    const leave = q(".cdchat-leave");
    if (leave) {
      leave.addEventListener("submit", function (event) {
        event.preventDefault();
        CasedeskChat.post(origin + "/chat/leave", self.csrf, new FormData(leave)).then(function (json) {
          if (json.error) return self.error(json.error);
          self.caseOpened(json, leave);
        });
      });
    }
  };

  Widget.prototype.error = function (text) {
    const box = this.q(".cdchat-error");
    box.textContent = text;
    box.hidden = !text;
  };

  Widget.prototype.caseOpened = function (json, replaced) {
    const done = this.q(".cdchat-left");
    done.textContent = "";
    done.append("We opened case ");
    const link = document.createElement("a");
    link.href = json.url;
    link.textContent = json.reference;
    done.append(link, "; we answer there and by email.");
    done.hidden = false;
    if (replaced) replaced.hidden = true;
    this.error("");
  };

  Widget.prototype.open = function (sessionId) {
    const self = this;
    const q = this.q;
    q(".cdchat-start").hidden = true;
    q(".cdchat-intro").hidden = true;
    q(".cdchat-conversation").hidden = false;
    const log = q(".cdchat-log");
    this.connection = new CasedeskChat.Connection({
      origin: origin,
      sessionId: sessionId,
      csrf: this.csrf,
      onReset: function () {
        log.textContent = "";
      },
      onMessage: function (message) {
        log.appendChild(CasedeskChat.renderMessage(message, "customer"));
        log.scrollTop = log.scrollHeight;
        if (message.role === "agent") q(".cdchat-typing").hidden = true;
      },
      onState: function (session) {
        self.state(session);
      },
      onTyping: function (name) {
        const typing = q(".cdchat-typing");
        typing.textContent = name + " is typing…";
        typing.hidden = false;
        clearTimeout(self.typingTimer);
        self.typingTimer = setTimeout(function () {
          typing.hidden = true;
        }, 4000);
      },
      onError: function (text) {
        self.error(text);
      },
    });
    this.connection.start();
    const form = q(".cdchat-send");
    const box = form.querySelector("textarea");
    box.addEventListener("input", function () {
      self.connection.typing();
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const text = box.value.trim();
      if (!text) return;
      box.value = "";
      self.error("");
      self.connection.send(text);
    });
    q(".cdchat-file").addEventListener("change", function (event) {
      const file = event.target.files[0];
      if (file) self.connection.sendFile(file);
      event.target.value = "";
    });
    q(".cdchat-end").addEventListener("click", function () {
      CasedeskChat.post(origin + "/chat/" + sessionId + "/end", self.csrf);
    });
    q(".cdchat-leave-case").addEventListener("click", function () {
      CasedeskChat.post(origin + "/chat/" + sessionId + "/leave-case", self.csrf).then(function (json) {
        if (json.error) return self.error(json.error);
        self.caseOpened(json, q(".cdchat-offer"));
      });
    });
    // The offer to leave a case appears once the wait passes the limit.
    setInterval(function () {
      if (self.session) self.state(self.session);
    }, 5000);
  };

  Widget.prototype.state = function (session) {
    if (session !== this.session) {
      this.session = session;
      this.stateAt = Date.now();
    }
    const q = this.q;
    const label = {
      waiting: "Waiting for an agent",
      active: "Chatting with " + session.agent,
      ended: "Chat ended",
      left_message: "Left as case " + session.case,
    }[session.status];
    q(".cdchat-status").textContent = label || "";
    const waited = session.waited_seconds + (Date.now() - this.stateAt) / 1000;
    q(".cdchat-offer").hidden = !(session.status === "waiting" && (session.offers_case || waited >= session.wait_limit_seconds));
    const over = session.status === "ended" || session.status === "left_message";
    q(".cdchat-send").hidden = over;
    q(".cdchat-file").hidden = over;
    q(".cdchat-end").hidden = over;
    if (over && this.connection) {
      this.connection.stop();
      this.connection = null;
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
