/* casedesk live chat: one chat's connection, WebSocket first, long polling when blocked.
 *
 * new CasedeskChat.Connection({origin, sessionId, csrf, onMessage, onState, onTyping, onError})
 * Messages are stored on the server before they are sent to anyone, so after any
 * reconnect the server's history is the truth: the socket sends it on connect, the long
 * poll asks for everything after the last message id this page has (and says how many it
 * has, so the server notices a message committed late with a lower id), and every 30 s the
 * whole history is fetched again and merged. Messages are shown once each, by id.
 */
(function () {
  "use strict";
  const NS = (window.CasedeskChat = window.CasedeskChat || {});
  if (NS.Connection) return;

  function post(url, csrf, data) {
    const body = data instanceof FormData ? data : new URLSearchParams(data || {});
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      body: body,
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return { error: "The server answered " + response.status + "." };
        })
        .then(function (json) {
          if (!response.ok && !json.error) json.error = "The server answered " + response.status + ".";
          return json;
        });
    });
  }
  NS.post = post;

  // A poll of this chat's history: resolves with the server's JSON, rejects on any error.
  function poll(origin, sessionId, query) {
    const url = origin + "/chat/" + sessionId + "/poll?" + query;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      }
    );
  }

  // Sockets in a row that may close before their first frame before the page polls.
  const RECONNECTS = 4;

  function Connection(options) {
    this.o = options;
    this.lastId = 0;
    this.seen = new Set();
    this.refetchTimer = null;
    this.mode = "connecting";
    this.socket = null;
    this.stopped = false;
    this.everOpen = false;
    this.heard = false; // this socket sent its first frame
    this.failures = 0; // sockets in a row that closed before their first frame
    this.lastTyping = 0;
  }

  Connection.prototype.start = function () {
    const self = this;
    if (window.WebSocket && !this.o.pollOnly) this.openSocket();
    else this.startPolling();
    this.refetchTimer = setInterval(function () {
      self.refetch();
    }, 30000);
  };

  Connection.prototype.stop = function () {
    this.stopped = true;
    clearInterval(this.refetchTimer);
    if (this.socket) this.socket.close();
  };

  // The whole history again, merged: whatever a socket frame or a poll missed shows up.
  Connection.prototype.refetch = function () {
    const self = this;
    if (this.stopped) return;
    poll(this.o.origin, this.o.sessionId, "after=0")
      .then(function (data) {
        data.messages.forEach(self.deliver, self);
      })
      .catch(function () {});
  };

  Connection.prototype.socketOpen = function () {
    return this.mode === "socket" && this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  };

  Connection.prototype.openSocket = function () {
    const self = this;
    const url = new URL(this.o.origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.pathname = "/ws/chat/" + this.o.sessionId + "/";
    let socket;
    try {
      socket = new WebSocket(url.toString());
    } catch (e) {
      this.startPolling();
      return;
    }
    this.socket = socket;
    // A proxy that swallows the upgrade may leave the socket hanging: give up after 5 s.
    const timer = setTimeout(function () {
      if (socket.readyState !== WebSocket.OPEN) socket.close();
    }, 5000);
    socket.onopen = function () {
      clearTimeout(timer);
      self.everOpen = true;
      self.mode = "socket";
    };
    socket.onmessage = function (event) {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      self.heard = true;
      self.handle(data);
    };
    socket.onclose = function () {
      clearTimeout(timer);
      self.socket = null;
      if (self.stopped) return;
      // A socket counts as working once the server's first frame (the history) came.
      if (self.heard) self.failures = 0;
      else self.failures += 1;
      self.heard = false;
      if (self.everOpen && self.failures < RECONNECTS) {
        // A restart or a network blip: reconnect (a little later after each failure),
        // and the whole history comes again (the socket's first frame).
        self.mode = "connecting";
        setTimeout(function () {
          if (!self.stopped) self.openSocket();
        }, 500 * Math.pow(2, self.failures) * (0.5 + Math.random()));
      } else {
        // Never opened (WebSockets are blocked on this path), or closed before the first
        // frame RECONNECTS times in a row (the server cannot set sockets up now, or this
        // person holds too many): long polling works without a socket.
        self.startPolling();
      }
    };
  };

  Connection.prototype.handle = function (data) {
    const o = this.o;
    if (data.type === "history") {
      if (o.onReset) o.onReset();
      this.lastId = 0;
      this.seen = new Set();
      data.messages.forEach(this.deliver, this);
      if (o.onState) o.onState(data.session);
    } else if (data.type === "message") {
      this.deliver(data.message);
    } else if (data.type === "state") {
      if (o.onState) o.onState(data.session);
    } else if (data.type === "typing") {
      if (o.onTyping) o.onTyping(data.name, data.role);
    } else if (data.type === "error") {
      if (o.onError) o.onError(data.error);
    }
  };

  Connection.prototype.deliver = function (message) {
    if (this.seen.has(message.id)) return; // already shown (a poll and a send crossing)
    this.seen.add(message.id);
    this.lastId = Math.max(this.lastId, message.id);
    if (this.o.onMessage) this.o.onMessage(message);
  };

  Connection.prototype.startPolling = function () {
    const self = this;
    this.mode = "poll";
    const loop = function () {
      if (self.stopped) return;
      poll(self.o.origin, self.o.sessionId, "after=" + self.lastId + "&have=" + self.seen.size)
        .then(function (data) {
          data.messages.forEach(self.deliver, self);
          if (self.o.onState) self.o.onState(data.session);
          setTimeout(loop, 50);
        })
        .catch(function () {
          setTimeout(loop, 3000);
        });
    };
    loop();
  };

  Connection.prototype.send = function (body) {
    const self = this;
    if (this.socketOpen()) {
      this.socket.send(JSON.stringify({ type: "message", body: body }));
      return Promise.resolve({});
    }
    return post(this.o.origin + "/chat/" + this.o.sessionId + "/send", this.o.csrf, { body: body }).then(
      function (json) {
        if (json.message) self.deliver(json.message);
        else if (json.error && self.o.onError) self.o.onError(json.error);
        return json;
      }
    );
  };

  Connection.prototype.typing = function () {
    const now = Date.now();
    if (!this.socketOpen() || now - this.lastTyping < 2000) return;
    this.lastTyping = now;
    this.socket.send(JSON.stringify({ type: "typing" }));
  };

  Connection.prototype.sendFile = function (file) {
    const self = this;
    const form = new FormData();
    form.append("file", file);
    return post(this.o.origin + "/chat/" + this.o.sessionId + "/file", this.o.csrf, form).then(function (json) {
      if (json.message) self.deliver(json.message);
      else if (json.error && self.o.onError) self.o.onError(json.error);
      return json;
    });
  };

  /* One message as a list item; every text goes in with textContent (never as HTML). */
  NS.renderMessage = function (message, viewerRole) {
    const item = document.createElement("li");
    item.className = "cdchat-msg cdchat-" + message.role + (message.role === viewerRole ? " cdchat-mine" : "");
    item.dataset.id = String(message.id);
    if (message.role !== "system") {
      const who = document.createElement("span");
      who.className = "cdchat-who";
      who.textContent = message.author;
      item.appendChild(who);
    }
    const time = document.createElement("time");
    time.dateTime = message.at;
    time.textContent = new Date(message.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    item.appendChild(time);
    const body = document.createElement(message.kind === "file" ? "a" : "p");
    body.className = "cdchat-body";
    body.textContent = message.kind === "file" ? "📎 " + message.body : message.body;
    if (message.kind === "file") body.href = message.url;
    item.appendChild(body);
    return item;
  };

  /* Put a rendered message into the log in id order (ids are handed out in the order
   * messages were stored; one committed late can arrive after a newer one), and keep the
   * log scrolled to the bottom. */
  NS.insertMessage = function (log, item) {
    const id = Number(item.dataset.id);
    let after = null;
    for (let child = log.lastElementChild; child; child = child.previousElementSibling) {
      if (Number(child.dataset.id) > id) after = child;
      else break;
    }
    log.insertBefore(item, after);
    log.scrollTop = log.scrollHeight;
  };

  NS.Connection = Connection;
})();
