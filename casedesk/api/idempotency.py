"""``Idempotency-Key`` on POSTs that make something (a reply, a page): a retry with the same
key and the same request gets the first answer again, not a second reply.

1. Without the header the request runs as it is.
2. With it, a row (token, key) is inserted first, in its own transaction: the unique
   constraint lets exactly one request with that key run, even two at once.
3. The first request's answer (status and JSON body) is stored on the row; a later
   request with the key gets it back with ``Idempotent-Replayed: true``; one still running
   gets a 409; the same key on another request (method, path or body) a 422.
4. A request that failed with a server error leaves no row, so it may be retried.
Keys are kept for a day (``KEPT``; the periodic sweep forgets older ones).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from casedesk.api import problems
from casedesk.api.models import ApiToken, IdempotentRequest

HEADER = "Idempotency-Key"
KEPT = timedelta(days=1)

_Handler = TypeVar("_Handler", bound=Callable[..., Response])


class KeyInUse(exceptions.APIException):
    status_code = 409
    default_detail = "A request with this Idempotency-Key is still running; retry shortly."


class KeyReused(exceptions.APIException):
    status_code = 422
    default_detail = "This Idempotency-Key was used for another request; use a new key."


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable() or not key.isascii():
        raise exceptions.ValidationError(
            {HEADER: ["Give 1 to 255 printable ASCII characters (a UUID is a good key)."]}
        )
    return key


def idempotent(handler: _Handler) -> _Handler:
    @functools.wraps(handler)
    def wrapped(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _key(request)
        token = request.auth
        if key is None or not isinstance(token, ApiToken):
            return handler(view, request, *args, **kwargs)
        fingerprint = _fingerprint(request)
        try:
            with transaction.atomic():
                row = IdempotentRequest.objects.create(
                    token=token, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            earlier = IdempotentRequest.objects.get(token=token, key=key)
            if earlier.fingerprint != fingerprint:
                raise KeyReused() from None
            if earlier.status is None:
                raise KeyInUse() from None
            replay = Response(
                earlier.body,
                status=earlier.status,
                content_type=problems.CONTENT_TYPE if earlier.status >= 400 else None,
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = handler(view, request, *args, **kwargs)
        except exceptions.APIException as exc:
            # A refusal (400, 403, 404) is an answer too: the same request gets it again.
            response = view.handle_exception(exc)
        except BaseException:
            row.delete()  # a server error: the client may retry with the same key
            raise
        if response.status_code >= 500:
            row.delete()
        else:
            row.status, row.body = response.status_code, response.data
            row.save(update_fields=["status", "body"])
        return response

    return wrapped  # type: ignore[return-value]


def forget_old(now: Any = None) -> int:
    cutoff = (now or timezone.now()) - KEPT
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
