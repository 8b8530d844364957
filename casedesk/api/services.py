"""Making, checking and revoking API tokens (the only code that sees a token whole).

A token reads ``cd_<8 hex>_<43 URL-safe characters>``: the first 11 characters are its
prefix, stored in the clear to find its row and to name it; the rest is 32 random bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from casedesk.accounts.models import Role, User
from casedesk.api.models import ApiToken, Scope

TOKEN_RE = re.compile(r"cd_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
PREFIX_LENGTH = len("cd_") + 8
# Writing "last used" on every request would make each API call a write; once a minute
# per token says as much to the person reading it.
LAST_USED_EVERY = timedelta(seconds=60)
# A token with no end must be asked for by name ("never"); a year is the longest term.
LONGEST_TERM = timedelta(days=366)
DEFAULT_TERM = timedelta(days=90)
# A name is one line of text people read: no control characters (pasted ones included).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What each role may let a token do: a customer's token sees what the portal shows them.
SCOPES_FOR_ROLE: dict[str, list[str]] = {
    Role.CUSTOMER: [Scope.CASES_READ, Scope.CASES_WRITE, Scope.STATUS_READ],
    Role.AGENT: [s for s in Scope.values if s != Scope.REPORTS_READ],
    Role.ADMIN: list(Scope.values),
}


class TokenError(ValueError):
    """A token that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class NewToken:
    person: User
    name: str
    scopes: list[str]
    term: timedelta | None = DEFAULT_TERM  # None: never expires


def allowed_scopes(person: User) -> list[str]:
    return list(SCOPES_FOR_ROLE.get(person.role, []))


def parse_term(text: str) -> timedelta | None:
    """``90d``, ``12h``, ``52w`` or ``never`` (None); raises TokenError otherwise."""
    text = text.strip().lower()
    if text == "never":
        return None
    match = re.fullmatch(r"(\d{1,4})([hdw])", text)
    if match is None:
        raise TokenError(f"say how long the token lasts as 90d, 12h, 8w or never, not {text!r}")
    number, unit = int(match[1]), match[2]
    term = {
        "h": timedelta(hours=number),
        "d": timedelta(days=number),
        "w": timedelta(weeks=number),
    }[unit]
    if not timedelta(hours=1) <= term <= LONGEST_TERM:
        raise TokenError("a token lasts from 1 hour to 366 days (or 'never')")
    return term


def create(new: NewToken) -> tuple[ApiToken, str]:
    """Make a token; returns the row and the token itself, which is never shown again."""
    name = " ".join(new.name.split())
    if not name or len(name) > 100 or _CONTROL.search(name):
        raise TokenError("give the token a name of 1 to 100 characters: what is it for?")
    if not new.person.is_active:
        raise TokenError(f"{new.person.email} cannot log in, so cannot have a token")
    scopes = sorted(set(new.scopes))
    if not scopes:
        raise TokenError("choose at least one scope")
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise TokenError(f"unknown scope {unknown[0]!r}; choose from {', '.join(Scope.values)}")
    refused = [s for s in scopes if s not in allowed_scopes(new.person)]
    if refused:
        raise TokenError(
            f"a {new.person.get_role_display().lower()}'s token cannot have {', '.join(refused)}"
        )
    if new.term is not None and not timedelta(hours=1) <= new.term <= LONGEST_TERM:
        raise TokenError("a token lasts from 1 hour to 366 days (or never)")
    while True:
        prefix = f"cd_{secrets.token_hex(4)}"
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    row = ApiToken.objects.create(
        person=new.person,
        name=name,
        prefix=prefix,
        digest=_digest(token),
        scopes=scopes,
        created_at=now,
        expires_at=now + new.term if new.term is not None else None,
    )
    return row, token


def authenticate(token: str, *, ip: str | None = None) -> ApiToken | None:
    """The live token this is, or None (malformed, unknown, wrong, expired, revoked, or
    its owner deactivated). Records when and from where it was last used."""
    if not TOKEN_RE.fullmatch(token):
        return None
    row = (
        ApiToken.objects.select_related("person", "person__organization")
        .filter(prefix=token[:PREFIX_LENGTH])
        .first()
    )
    if row is None or not hmac.compare_digest(row.digest, _digest(token)) or not row.is_live:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
        ).update(last_used_at=now, last_used_from=ip)
        row.last_used_at, row.last_used_from = now, ip
    return row


def revoke(row: ApiToken, by: User | None) -> bool:
    """Revoke ``row`` (once); True if this call revoked it."""
    done = ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    return bool(done)


def tokens_of(person: User) -> list[ApiToken]:
    return list(ApiToken.objects.filter(person=person).select_related("person"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
