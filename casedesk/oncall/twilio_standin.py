"""A local stand-in for Twilio's REST API, for tests and ``bench/paging.py``.

A small threaded HTTP server on 127.0.0.1 that accepts what the ``twilio``
package sends for ``messages.create`` and ``calls.create``, records every
request, and answers with Twilio-shaped JSON: 201 with a resource and its SID,
or Twilio's error body (``code``, ``message``, ``more_info``, ``status``) for a
bad credential (20003), an invalid number (21211), or a failure a test queued
with :meth:`TwilioStandIn.fail_next`. It also serves a recording's media
(``GET .../Recordings/RE....mp3``, basic auth as Twilio asks) for the recordings a
test added with :meth:`TwilioStandIn.add_recording`. Point ``TWILIO_API_BASE`` at
``.base_url``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

_RESOURCE = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]{1,64})/(Messages|Calls)\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]{1,64})/Recordings/(RE[0-9a-zA-Z]{1,64})\.mp3$"
)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    kind: str  # "Messages" or "Calls" ("" for anything else)
    form: dict[str, str]
    account: str
    received: float  # time.time() when it arrived
    status: int


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int


@dataclass
class TwilioStandIn:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "standin-auth-token"  # noqa: S105 - a local test double's
    requests: list[Recorded] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)  # RecordingSid -> mp3 bytes
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    # ---- control ----
    def start(self) -> TwilioStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                standin._handle(self)

            def do_GET(self) -> None:
                standin._media(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, status: int, code: int = 20500, message: str = "", times: int = 1) -> None:
        """Answer the next ``times`` resource requests with this error."""
        with self._cond:
            self._failures.append(_Failure(status, code, message or "Internal error", times))

    def add_recording(self, sid: str, audio: bytes) -> str:
        """Serve ``audio`` as recording ``sid``; returns its ``RecordingUrl`` (Twilio's
        own address: casedesk fetches its path through ``TWILIO_API_BASE``)."""
        with self._cond:
            self.recordings[sid] = audio
        return f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    def sent(self, kind: str = "") -> list[Recorded]:
        """Accepted requests (201), of one kind ("Messages", "Calls") or all."""
        with self._cond:
            return [r for r in self.requests if r.status == 201 and (not kind or r.kind == kind)]

    def wait_for(self, count: int, timeout: float = 10.0, kind: str = "") -> list[Recorded]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sent(kind)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.sent(kind)

    # ---- serving ----
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        received = time.time()
        length = min(int(handler.headers.get("Content-Length") or 0), 1_000_000)
        raw = handler.rfile.read(length).decode("utf-8", "replace")
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        match = _RESOURCE.match(handler.path.split("?")[0])
        kind = match.group(2) if match else ""
        account = match.group(1) if match else ""
        status, body = self._answer(handler, kind, account, form)
        with self._cond:
            self.requests.append(
                Recorded("POST", handler.path, kind, form, account, received, status)
            )
            self._cond.notify_all()
        self._reply(handler, status, body)

    def _media(self, handler: BaseHTTPRequestHandler) -> None:
        """A recording's mp3, for the account's credentials only (Twilio's default)."""
        match = _MEDIA.match(handler.path.split("?")[0])
        account = match.group(1) if match else ""
        status = 200
        with self._cond:
            audio = self.recordings.get(match.group(2)) if match else None
            failure = self._failures.pop(0) if self._failures and match else None
            if failure is not None and failure.times > 1:
                failure.times -= 1
                self._failures.insert(0, failure)
        if match is None or audio is None:
            status, body = 404, _error(20404, "The requested resource was not found", 404)
        elif not self._authorized(handler.headers.get("Authorization", ""), account):
            status, body = 401, _error(20003, "Authenticate", 401)
        elif failure is not None:
            status, body = failure.status, _error(failure.code, failure.message, failure.status)
        with self._cond:
            self.requests.append(
                Recorded("GET", handler.path, "", {}, account, time.time(), status)
            )
            self._cond.notify_all()
        if status != 200:
            self._reply(handler, status, body)
            return
        assert audio is not None
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/mpeg")
        handler.send_header("Content-Length", str(len(audio)))
        handler.end_headers()
        handler.wfile.write(audio)

    def _answer(
        self, handler: BaseHTTPRequestHandler, kind: str, account: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if not kind:
            return 404, _error(20404, "The requested resource was not found", 404)
        if not self._authorized(handler.headers.get("Authorization", ""), account):
            return 401, _error(20003, "Authenticate", 401)
        with self._cond:
            if self._failures:
                failure = self._failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
                return failure.status, _error(failure.code, failure.message, failure.status)
        to = form.get("To", "")
        if not _E164.match(to):
            return 400, _error(21211, f"The 'To' number {to} is not a valid phone number.", 400)
        if kind == "Messages" and not form.get("Body"):
            return 400, _error(21602, "Message body is required.", 400)
        if kind == "Calls" and not (form.get("Url") or form.get("Twiml")):
            return 400, _error(21205, "Url parameter is required.", 400)
        prefix = "SM" if kind == "Messages" else "CA"
        sid = prefix + secrets.token_hex(16)
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": account,
            "to": to,
            "from": form.get("From", ""),
            "status": "queued",
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/{kind}/{sid}.json",
        }
        if kind == "Messages":
            resource.update(body=form.get("Body", ""), num_segments="1", direction="outbound-api")
        else:
            resource.update(direction="outbound-api", answered_by=None)
        return 201, resource

    def _authorized(self, header: str, account: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == account and password == self.auth_token

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
