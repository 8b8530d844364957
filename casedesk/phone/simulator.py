"""Plays Twilio's part of a call against a running casedesk (``casedesk phone simulate``).

It posts what Twilio would post, signed as Twilio signs (``RequestValidator`` over the
public URL, ``CASEDESK_BASE_URL`` by default), reads the TwiML answers and follows them:
``Say`` is printed, ``Gather`` takes the next scripted digits (or asks on a terminal),
``Redirect`` and the actions are followed, ``Dial`` rings the engineer (who answers,
hears the whisper and accepts, refuses, lets it ring, or is a voicemail), ``Record``
leaves a message. ``bench/phone.py`` drives it too, timing every answer.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

ENGINEER_CHOICES = ("accept", "refuse", "no-answer", "busy", "machine")
ACCOUNT_SID = "AC" + "5" * 32


class SimulationError(RuntimeError):
    pass


@dataclass
class Player:
    url: str  # where the server listens
    public_url: str  # the URL Twilio was told (what signatures cover)
    token: str
    from_number: str
    to_number: str
    say: Callable[[str], None] = print
    digits: list[str] = field(default_factory=list)  # scripted keypresses, in order
    engineers: list[str] = field(default_factory=list)  # scripted engineer behaviours
    ask: Callable[[str], str] | None = None  # a terminal's input(), when interactive
    message_seconds: int = 20
    talk_seconds: int = 60
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    timings: list[tuple[str, float]] = field(default_factory=list)  # (path, seconds)
    sequence: int = 0
    legs: int = 0
    spoken: int = 0  # simulated seconds of conversation and message

    # ---- HTTP ----
    def post(self, target: str, params: dict[str, str]) -> ET.Element:
        """POST ``params`` to ``target``: a path within casedesk, or an absolute URL under
        the public URL (which may have a path prefix, ``https://example.com/desk``)."""
        public = self.public_url.rstrip("/")
        if target.startswith(public + "/"):
            path = target[len(public) :]
        else:
            parts = urlsplit(target)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        parts = urlsplit(path)
        signature = RequestValidator(self.token).compute_signature(public + path, params)
        request = urllib.request.Request(  # noqa: S310 - http(s) URL given by the operator
            self.url + path,
            data=urlencode(params).encode(),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1 (casedesk phone simulate)",
            },
            method="POST",
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310
                body = answer.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise SimulationError(f"{path} answered {exc.code}: {detail}") from None
        except OSError as exc:
            raise SimulationError(
                f"cannot reach {self.url}{path}: {exc} (is casedesk running? `make run`)"
            ) from None
        self.timings.append((parts.path, time.perf_counter() - started))
        try:
            return ET.fromstring(body)  # noqa: S314 - TwiML from the server we test
        except ET.ParseError as exc:
            raise SimulationError(f"{path} answered something that is not TwiML: {exc}") from None

    def _call(self, **params: str) -> dict[str, str]:
        return {
            "CallSid": self.call_sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.from_number,
            "To": self.to_number,
            "Direction": "inbound",
            **params,
        }

    # ---- the call ----
    def play(self) -> None:
        started = time.monotonic()
        self.say(f"calling {self.to_number} from {self.from_number} (call {self.call_sid})")
        document: ET.Element | None = self.post("/phone/voice", self._call(CallStatus="ringing"))
        while document is not None:
            document = self._run(document, "caller")
        seconds = int(time.monotonic() - started) + self.spoken
        self.sequence += 1
        self.post(
            "/phone/voice/status",
            self._call(
                CallStatus="completed", CallDuration=str(seconds), SequenceNumber=str(self.sequence)
            ),
        )
        self.say(f"call ended ({seconds} s)")

    def _run(self, document: ET.Element, who: str) -> ET.Element | None:
        """Act out one TwiML document; the next document, or None when the call ends."""
        for verb in document:
            if verb.tag == "Say":
                self.say(f"  {who} hears: {verb.text or ''}")
            elif verb.tag == "Gather":
                for inner in verb:
                    if inner.tag == "Say":
                        self.say(f"  {who} hears: {inner.text or ''}")
                pressed = self._digits(who)
                self.say(f"  {who} presses: {pressed or '(nothing)'}")
                if pressed or verb.get("actionOnEmptyResult") == "true":
                    return self.post(verb.get("action", ""), self._call(Digits=pressed))
            elif verb.tag == "Redirect":
                return self.post(verb.text or "", self._call(CallStatus="in-progress"))
            elif verb.tag == "Dial":
                return self._dial(verb)
            elif verb.tag == "Record":
                following = self._record(verb)
                if following is not None:
                    return following
            elif verb.tag == "Hangup":
                self.say(f"  ({who} hears the line hang up)")
                return None
        return None

    def _digits(self, who: str) -> str:
        if who == "caller" and self.digits:
            return self.digits.pop(0)
        if self.ask is not None and who == "caller":
            return self.ask("  caller presses (digits, Enter for nothing): ").strip()
        return ""

    def _engineer(self, number: str) -> str:
        if self.engineers:
            return self.engineers.pop(0)
        if self.ask is not None:
            while True:
                choice = self.ask(
                    f"  engineer {number}: accept, refuse, no-answer, busy or machine? "
                ).strip()
                if choice in ENGINEER_CHOICES:
                    return choice
        return "accept"

    # ---- the engineer's leg ----
    def _leg_status(self, target: str, leg: str, number: str, status: str, **more: str) -> None:
        self.sequence += 1
        self.post(
            target,
            {
                "CallSid": leg,
                "ParentCallSid": self.call_sid,
                "AccountSid": ACCOUNT_SID,
                "To": number,
                "From": self.to_number,
                "Direction": "outbound-dial",
                "CallStatus": status,
                "SequenceNumber": str(self.sequence),
                **more,
            },
        )

    def _dial(self, dial: ET.Element) -> ET.Element | None:
        number_element = dial.find("Number")
        action = dial.get("action", "")
        if number_element is None or not number_element.text:
            return self.post(action, self._call(DialCallStatus="failed"))
        number = number_element.text.strip()
        callbacks = number_element.get("statusCallback", "")
        leg = "CA" + secrets.token_hex(16)
        self.legs += 1
        behaviour = self._engineer(number)
        self.say(f"  ringing engineer {number} (up to {dial.get('timeout', '30')} s): {behaviour}")
        if callbacks:
            self._leg_status(callbacks, leg, number, "initiated")
            self._leg_status(callbacks, leg, number, "ringing")
        if behaviour in ("no-answer", "busy"):
            if callbacks:
                self._leg_status(callbacks, leg, number, behaviour)
            return self.post(action, self._call(DialCallStatus=behaviour, DialCallSid=leg))
        if callbacks:
            self._leg_status(callbacks, leg, number, "in-progress")
        accepted = self._whisper(number_element, leg, number, behaviour)
        talk = self.talk_seconds if accepted else 4
        if accepted:
            self.say(f"  caller and engineer are connected (talking for {talk} s)")
            self.spoken += talk
        if callbacks:
            self._leg_status(callbacks, leg, number, "completed", CallDuration=str(talk))
        return self.post(
            action,
            self._call(DialCallStatus="completed", DialCallSid=leg, DialCallDuration=str(talk)),
        )

    def _whisper(self, number_element: ET.Element, leg: str, number: str, behaviour: str) -> bool:
        """The engineer's side: the whisper, and their keypress. True when connected."""
        url = number_element.get("url")
        if not url:
            return behaviour != "machine"
        params = {
            "CallSid": leg,
            "ParentCallSid": self.call_sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.to_number,
            "To": number,
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
            "AnsweredBy": "machine_start" if behaviour == "machine" else "human",
        }
        document: ET.Element | None = self.post(url, params)
        while document is not None:
            gather = None
            for verb in document:
                if verb.tag == "Say":
                    self.say(f"  engineer hears: {verb.text or ''}")
                elif verb.tag == "Gather":
                    gather = verb
                    break
                elif verb.tag == "Hangup":
                    self.say("  (the engineer's leg hangs up)")
                    return False
            if gather is None:
                return True  # the whisper's TwiML ran out: Twilio bridges the two
            for inner in gather:
                if inner.tag == "Say":
                    self.say(f"  engineer hears: {inner.text or ''}")
            pressed = "1" if behaviour == "accept" else "" if behaviour == "machine" else "2"
            self.say(f"  engineer presses: {pressed or '(nothing)'}")
            if not pressed and gather.get("actionOnEmptyResult") != "true":
                return False
            document = self.post(gather.get("action", ""), {**params, "Digits": pressed})
        return False

    # ---- voicemail ----
    def _record(self, record: ET.Element) -> ET.Element | None:
        """Leave a message (None: nothing recorded, Twilio goes on to the next verb)."""
        if self.message_seconds <= 0:
            self.say("  (beep; the caller says nothing)")
            return None
        seconds = min(self.message_seconds, int(record.get("maxLength", "3600")))
        self.say(f"  (beep; the caller leaves a {seconds}-second message)")
        self.spoken += seconds
        recording = "RE" + secrets.token_hex(16)
        params = self._call(
            RecordingSid=recording,
            RecordingUrl=(
                f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording}"
            ),
            RecordingDuration=str(seconds),
            Digits="#",
        )
        following = self.post(record.get("action", ""), params)
        callback = record.get("recordingStatusCallback")
        if callback:
            self.post(callback, {**params, "RecordingStatus": "completed"})
        return following
