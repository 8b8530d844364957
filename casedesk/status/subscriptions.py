"""Subscribing by email: double opt-in and one-click unsubscribe, with signed links.

Subscribing stores nothing: the confirmation mail carries a signed link with the
address and the chosen components, and only following it (a POST from the page
it opens: mail scanners fetch links, they do not press buttons) creates the
subscriber. So the form cannot be used to fill the table, and it answers the
same whether or not the address is already subscribed.

The unsubscribe link is signed with the subscriber's id and address and does not
expire (RFC 8058 one-click needs a link that works months later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from casedesk.status.models import Component, Subscriber

CONFIRM_LIFETIME = timedelta(days=3)
_CONFIRM_SALT = "casedesk.status.confirm"
_UNSUBSCRIBE_SALT = "casedesk.status.unsubscribe"


class BadLink(ValueError):
    """A link that was altered, expired, or names nothing."""


def confirm_url(email: str, component_ids: Sequence[str]) -> str:
    token = signing.dumps({"e": email, "c": list(component_ids)}, salt=_CONFIRM_SALT, compress=True)
    return f"{settings.BASE_URL}{reverse('status:confirm', args=[token])}"


def read_confirmation(token: str) -> tuple[str, list[str]]:
    try:
        data = signing.loads(token, salt=_CONFIRM_SALT, max_age=CONFIRM_LIFETIME)
    except signing.SignatureExpired as exc:
        raise BadLink("This link has expired: subscribe again for a new one.") from exc
    except signing.BadSignature as exc:
        raise BadLink("This link is not valid.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        raise BadLink("This link is not valid.")
    components = data.get("c")
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise BadLink("This link is not valid.")
    return data["e"], components


@transaction.atomic
def confirm(token: str) -> Subscriber:
    """Create (or update the choice of) the subscriber a confirmation link names."""
    email, component_ids = read_confirmation(token)
    chosen = list(Component.objects.filter(public_id__in=component_ids))
    if component_ids and not chosen:
        # Never widen a choice: with none of the chosen components left, an empty choice
        # would mean "everything".
        raise BadLink("The components you chose are no longer on the page: subscribe again.")
    subscriber, _ = Subscriber.objects.get_or_create(email=email)
    subscriber.confirmed_at = subscriber.confirmed_at or timezone.now()
    subscriber.scope = Subscriber.Scope.CHOSEN if component_ids else Subscriber.Scope.ALL
    subscriber.save(update_fields=["confirmed_at", "scope"])
    subscriber.components.set(chosen)
    return subscriber


def unsubscribe_url(subscriber: Subscriber) -> str:
    token = signing.dumps({"s": subscriber.pk, "e": subscriber.email}, salt=_UNSUBSCRIBE_SALT)
    return f"{settings.BASE_URL}{reverse('status:unsubscribe', args=[token])}"


def subscriber_for(token: str) -> Subscriber | None:
    """The subscriber an unsubscribe link names; None when already gone; BadLink if forged."""
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise BadLink("This link is not valid.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise BadLink("This link is not valid.")
    return Subscriber.objects.filter(pk=data["s"], email=data.get("e")).first()
