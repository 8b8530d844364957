"""What other apps ask of accounts: who is this, which organization, may they see it.

The tenant rule lives here and only here: a customer sees their own
organization; agents and admins see every organization. Later apps fetch
their objects through these helpers (``cases`` filters by
``organizations_visible_to(user)``), so the check cannot be forgotten.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from casedesk.accounts.models import (
    Organization,
    OrganizationDomain,
    OrganizationPhone,
    Role,
    User,
    normalize_email,
    normalize_phone,
)
from casedesk.accounts.tokens import invite_token_generator
from casedesk.core.mail import send_templated
from casedesk.hours.services import UnknownCalendar, current_calendar
from casedesk.lib.durations import humanize_duration


def staff_member(user: User | AnonymousUser) -> User | None:
    """The active agent or admin making this request, or None for anyone else."""
    if isinstance(user, User) and user.is_active and user.is_vendor_staff:
        return user
    return None


def organizations_visible_to(user: User | AnonymousUser) -> QuerySet[Organization]:
    """The organizations whose data this person may see."""
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    assert isinstance(user, User)
    if user.is_vendor_staff:
        return Organization.objects.all()
    return Organization.objects.filter(pk=user.organization_id or 0)


def organization_for_user(user: User | AnonymousUser, pk: int) -> Organization:
    """One organization, for this person: 404 if it is not theirs to see."""
    organization = organizations_visible_to(user).filter(pk=pk).first()
    if organization is None:
        raise Http404("No such organization")
    return organization


def customers_visible_to(user: User | AnonymousUser) -> QuerySet[User]:
    """The customers whose accounts this person may see (agents: all; customers: none)."""
    if staff_member(user) is None:
        return User.objects.none()
    return User.objects.filter(role="customer")


def addresses_managed_by(user: User | AnonymousUser, emails: Iterable[str]) -> set[str]:
    """Which of these addresses' log-ins (locks, reset links) this person may manage.

    Admins: any address, staff and addresses with no account included (a
    spraying attack shows up there). Agents: their customers'. Customers: none.
    """
    emails = list(emails)
    if isinstance(user, User) and user.is_active and user.role == Role.ADMIN:
        return set(emails)
    return set(customers_visible_to(user).filter(email__in=emails).values_list("email", flat=True))


def organization_for_email(address: str) -> Organization | None:
    """The organization an email address belongs to: its person's, else its domain's."""
    email = normalize_email(address)
    person = User.objects.filter(email=email).select_related("organization").first()
    if person is not None:
        return person.organization
    domain = email.rpartition("@")[2]
    match = OrganizationDomain.objects.filter(domain=domain).select_related("organization").first()
    return match.organization if match else None


def organization_for_phone(number: str) -> Organization | None:
    """The organization a calling number (E.164, as Twilio sends it) belongs to."""
    match = (
        OrganizationPhone.objects.filter(number=normalize_phone(number))
        .select_related("organization")
        .first()
    )
    return match.organization if match else None


def organization_for_account_number(digits: str) -> Organization | None:
    """The organization whose account number a caller keyed in."""
    digits = "".join(ch for ch in digits if ch.isdigit())
    if not digits:
        return None
    return Organization.objects.filter(account_number=digits).first()


def invite(person: User, *, by: User | None = None) -> None:
    """Email a person a one-time link to set their password (valid INVITE_LINK_LIFETIME).

    The link dies once used (the token covers the password hash) and when it
    expires; a new invitation makes a new link. Sent at once rather than through
    the worker: the admin who clicks "invite" should see a mail error at once.
    """
    uid = urlsafe_base64_encode(force_bytes(person.pk))
    token = invite_token_generator.make_token(person)
    path = f"/accounts/invite/{uid}/{token}/"
    context = {
        "person": person,
        "link": f"{settings.BASE_URL}{path}",
        "by": by,
        "lifetime": humanize_duration(settings.INVITE_LINK_LIFETIME),
        "site_name": settings.OTP_TOTP_ISSUER,
        "base_url": settings.BASE_URL,
    }
    send_templated("accounts/email/invite", context, [person.email])
    person.invited_at = timezone.now()
    person.save(update_fields=["invited_at"])


def zone_of(person: User) -> zoneinfo.ZoneInfo:
    """The zone to write a person's times in (mail): theirs, else the support calendar's."""
    if person.time_zone:
        return zoneinfo.ZoneInfo(person.time_zone)
    try:
        return current_calendar().zone
    except UnknownCalendar:
        return zoneinfo.ZoneInfo("UTC")
