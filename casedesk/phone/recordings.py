"""Voicemails into case files: Twilio's recording fetched once, stored as an attachment.

Twilio's ``RecordingUrl`` answers only with the account's credentials (HTTP basic auth
with ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN``), so it is no link for an agent,
and never goes on the timeline. When the recording callback arrives (``callbacks``),
``fetch_recording`` runs on the worker: it GETs ``<RecordingUrl>.mp3`` through
``TWILIO_API_BASE`` (Twilio's API by default; ``oncall.twilio_standin`` in tests) and
stores it with ``cases.services.attach`` (its size and type checks apply), so the
timeline links a casedesk URL behind the case's own access checks. ``Call.recording_url``
stays the source.

Failures: a timeout, a refused connection, a 5xx or 429 is tried again
(``_FETCH_RETRY``); anything another try cannot fix (no Twilio account, as in the demo
and ``casedesk phone simulate``; a 401/404; a file the attachment checks refuse; the
last try failing) leaves one internal note on the case saying why, and stops.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django_tasks import task

from casedesk.cases import services as case_services
from casedesk.cases.models import Attachment
from casedesk.core.retry import PermanentError, RetryableError, RetryPolicy, retrying
from casedesk.oncall.notifiers import TWILIO_TIMEOUT_SECONDS
from casedesk.phone.models import Call

logger = logging.getLogger("casedesk.phone")

# The path of a recording under Twilio's API: only that is ever fetched with our
# credentials, and only from TWILIO_API_BASE (never the host a request named).
RECORDING_PATH_RE = re.compile(
    r"/2010-04-01/Accounts/(AC[0-9a-zA-Z]{32})/Recordings/(RE[0-9a-zA-Z]{32})"
)
_FETCH_RETRY = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30), factor=2.0)


def file_name(call: Call) -> str:
    return f"voicemail-{call.recording_sid}.mp3"


def attachment_of(call: Call) -> Attachment | None:
    """The voicemail's case file, once fetched (the link agents and the customer open)."""
    if call.case_id is None or not call.recording_sid:
        return None
    return Attachment.objects.filter(case_id=call.case_id, name=file_name(call)).first()


def media_url(call: Call) -> str:
    """Where the recording's mp3 is fetched: its path under ``TWILIO_API_BASE``."""
    path = urlsplit(call.recording_url).path.removesuffix(".mp3").removesuffix(".wav")
    match = RECORDING_PATH_RE.fullmatch(path)
    if match is None or match.group(2) != call.recording_sid:
        raise PermanentError(f"{call.recording_url[:200]} is not a Twilio recording's address")
    if match.group(1) != settings.TWILIO_ACCOUNT_SID:
        raise PermanentError("the recording belongs to another Twilio account")
    return f"{settings.TWILIO_API_BASE.rstrip('/')}{path}.mp3"


def _download(url: str) -> bytes:
    limit = settings.ATTACHMENT_MAX_BYTES
    try:
        with requests.get(
            url,
            auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
            timeout=TWILIO_TIMEOUT_SECONDS,
            stream=True,
            allow_redirects=False,
        ) as answer:
            if answer.status_code == 429 or answer.status_code >= 500:
                raise RetryableError(f"Twilio answered {answer.status_code}")
            if answer.status_code != 200:
                raise PermanentError(f"Twilio answered {answer.status_code}")
            body = io.BytesIO()
            for chunk in answer.iter_content(64 * 1024):
                body.write(chunk)
                if body.tell() > limit:
                    raise PermanentError(f"the recording is over {limit} bytes")
            return body.getvalue()
    except requests.RequestException as exc:
        raise RetryableError(f"could not reach Twilio: {exc}") from exc


def _note(call: Call, why: str) -> None:
    logger.warning(
        "phone: voicemail %s of call %s not fetched: %s", call.recording_sid, call.sid, why
    )
    if call.case is not None:
        case_services.system_note(
            call.case,
            f"The voicemail of the call from {call.from_number or 'an unknown number'} could "
            f"not be copied into the case ({why}). It stays in the Twilio account as "
            f"recording {call.recording_sid}.",
        )


@task(queue_name="critical")
@retrying(_FETCH_RETRY)
def fetch_recording(call_id: int) -> str:
    """Copy the call's voicemail into its case's files (once)."""
    call = Call.objects.select_related("case", "caller").filter(pk=call_id).first()
    if call is None or call.case is None or not call.recording_sid:
        return "nothing to fetch"
    if attachment_of(call) is not None:
        return "already fetched"
    Call.objects.filter(pk=call.pk).update(recording_fetches=F("recording_fetches") + 1)
    attempt = call.recording_fetches + 1
    try:
        if not settings.TWILIO_ACCOUNT_SID:
            raise PermanentError("no Twilio account is configured (TWILIO_ACCOUNT_SID)")
        content = _download(media_url(call))
    except PermanentError as exc:
        _note(call, str(exc))
        return f"failed: {exc}"
    except RetryableError as exc:
        if attempt >= _FETCH_RETRY.max_attempts:
            _note(call, f"gave up after {attempt} tries: {exc}")
            return f"failed after {attempt} tries: {exc}"
        raise
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if attachment_of(locked) is not None:
            return "already fetched"
        assert locked.case is not None
        by = locked.caller or locked.case.requester
        upload = SimpleUploadedFile(file_name(locked), content, content_type="audio/mpeg")
        try:
            case_services.attach(locked.case, [upload], by, public=True)
        except case_services.CaseError as exc:
            _note(locked, str(exc))
            return f"refused: {exc}"
    return "fetched"
