/* casedesk chat widget.
 *
 * On the portal every page includes it (same origin as casedesk). In the vendor's own
 * product, on another origin, one tag adds it:
 *
 *   <script src="https://support.example.com/static/chat/widget.js"
 *           data-casedesk="https://support.example.com" async></script>
 *
 * There it only builds a frame of casedesk's /chat/embed/ page in the corner of the page
 * (the origin must be listed in CASEDESK_CHAT_EMBED_ORIGINS, or browsers refuse the frame)
 * and resizes it when the frame asks. The chat itself runs inside that frame, on
 * casedesk's origin: the product's page never sees the visitor's session, CSRF token or
 * messages, and its CSS cannot touch the widget's.
 *
 * On casedesk's own pages (the portal, the frame) it loads its stylesheet and
 * transport.js from where widget.js itself came from (STATIC_URL, a CDN too), fetches the
 * widget's HTML from /chat/widget/ unless the page has it already (open: start or resume a
 * chat; offline: support hours, when chat reopens, the three ways to open a critical case
 * and a leave-a-message form) and puts it in #casedesk-chat (created at the end of <body>
 * when the page has none). About every RECHECK seconds (give or take a quarter, so the
 * open tabs of all visitors do not ask together) it asks /chat/state and redraws itself
 * when chat opened or closed meanwhile (support hours, agents coming and going), after a
 * random pause of up to a sixth of RECHECK (every tab sees the change at about once).
 */
(function () {
  "use strict";
  const script = document.currentScript;
  const assetsFrom = script ? script.src : window.location.href;
  let declared = "";
  try {
    if (script && script.dataset.casedesk) declared = new URL(script.dataset.casedesk, window.location.href).origin;
  } catch (e) {
    console.error("casedesk chat: data-casedesk must be casedesk's address, such as https://support.example.com");
    return;
  }
  // casedesk's own origin: where /chat/ and /ws/ are.
  const origin = declared || window.location.origin;
  const framed = window.parent !== window;

  if (origin !== window.location.origin) {
    embedFrame();
    return;
  }

  /* In the vendor's product: a frame of casedesk's widget page, resized on its request. */
  function embedFrame() {
    function build() {
      if (document.querySelector("iframe[data-casedesk-chat]")) return;
      const frame = document.createElement("iframe");
      frame.src = origin + "/chat/embed/?host=" + encodeURIComponent(window.location.origin);
      frame.title = "Live chat with support";
      frame.setAttribute("data-casedesk-chat", "");
      frame.style.cssText =
        "position:fixed;right:0;bottom:0;width:260px;height:90px;border:0;margin:0;padding:0;" +
        "background:transparent;color-scheme:normal;z-index:2147483000;max-width:100vw;max-height:100vh";
      window.addEventListener("message", function (event) {
        // Only the frame itself, from casedesk's origin, may resize it.
        if (event.origin !== origin || event.source !== frame.contentWindow) return;
        const data = event.data;
        if (!data || data.type !== "casedesk-chat:size") return;
        const width = Math.ceil(Number(data.width));
        const height = Math.ceil(Number(data.height));
        if (!(width > 0 && height > 0)) return;
        frame.style.width = Math.min(width, 2000) + "px";
        frame.style.height = Math.min(height, 2000) + "px";
      });
      (document.getElementById("casedesk-chat") || document.body).appendChild(frame);
    }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
    else build();
  }

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

  function fetchWidget() {
    return fetch(origin + "/chat/widget/", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("chat widget: " + r.status);
      return r.text();
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
      assets.push(load("link", { rel: "stylesheet", href: new URL("chat.css", assetsFrom).href, "data-casedesk-chat": "" }));
    }
    if (!(window.CasedeskChat && window.CasedeskChat.Connection)) {
      assets.push(load("script", { src: new URL("transport.js", assetsFrom).href }));
    }
    const present = root.querySelector(".cdchat");
    const html = present ? Promise.resolve(null) : fetchWidget();
    Promise.all([html].concat(assets)).then(function (results) {
      if (results[0] !== null) root.innerHTML = results[0]; // casedesk's own escaped template
      const widget = new Widget(root.querySelector(".cdchat"), root);
      widget.bind();
      widget.watch();
    });
  }

  function Widget(element, root) {
    this.el = element;
    this.root = root;
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
      self.expand(panel.hidden);
    });
    q(".cdchat-close").addEventListener("click", function () {
      self.expand(false);
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

  Widget.prototype.expand = function (opening) {
    const toggle = this.q(".cdchat-toggle");
    this.q(".cdchat-panel").hidden = !opening;
    toggle.setAttribute("aria-expanded", String(opening));
    this.el.classList.toggle("cdchat-expanded", opening);
    this.report();
  };

  // In the vendor's product's frame: ask the embedding page (only the origin casedesk
  // named, CASEDESK_CHAT_EMBED_ORIGINS) for room: the toggle's size, or the open panel's.
  Widget.prototype.report = function () {
    const host = document.documentElement.dataset.casedeskHost;
    if (!framed || !host) return;
    const expanded = !this.q(".cdchat-panel").hidden;
    const toggle = this.q(".cdchat-toggle").getBoundingClientRect();
    const size = expanded ? { width: 410, height: 680 } : { width: toggle.width + 40, height: toggle.height + 40 };
    window.parent.postMessage({ type: "casedesk-chat:size", width: size.width, height: size.height }, host);
  };

  /* Keep the widget true while the page stays open: chat opens and closes with support
   * hours and agents' presence, and a visitor may log in in another tab. */
  Widget.prototype.watch = function () {
    const self = this;
    const every = Math.max(1, Number(this.el.dataset.recheck) || 30);
    const next = function () {
      self.recheckTimer = setTimeout(function () {
        if (self.retired) return;
        self.recheck(every);
        next();
      }, every * 1000 * (0.75 + Math.random() / 2));
    };
    next();
    this.report();
  };

  Widget.prototype.busy = function () {
    if (this.session || this.el.dataset.session || this.connection) return true; // a chat goes on
    const left = this.q(".cdchat-left");
    if (left && !left.hidden) return true; // the answer to a message just left
    const form = this.q(".cdchat-leave");
    return Boolean(form && Array.from(form.elements).some(function (field) {
      return field.value && field.type !== "submit";
    }));
  };

  Widget.prototype.recheck = function (every) {
    const self = this;
    // Counted where a test (or a curious operator) can see that the widget did look.
    this.el.dataset.rechecked = String(Number(this.el.dataset.rechecked || 0) + 1);
    if (this.busy()) return;
    fetch(origin + "/chat/state", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (json) {
        if (!json || self.busy()) return;
        if (json.state === self.el.dataset.state && json.customer === (self.el.dataset.customer === "1")) return;
        // Spread the redraws: every open tab learns of the change within one recheck.
        return new Promise(function (resolve) {
          setTimeout(resolve, (Math.random() * every * 1000) / 6);
        })
          .then(function () {
            return self.busy() ? null : fetchWidget();
          })
          .then(function (html) {
            if (html === null || self.busy() || self.retired) return;
            const expanded = !self.q(".cdchat-panel").hidden;
            self.retired = true;
            clearTimeout(self.recheckTimer);
            self.root.innerHTML = html;
            const next = new Widget(self.root.querySelector(".cdchat"), self.root);
            next.bind();
            if (expanded) next.expand(true);
            next.watch();
          });
      })
      .catch(function () {});
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
        CasedeskChat.insertMessage(log, CasedeskChat.renderMessage(message, "customer"));
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
