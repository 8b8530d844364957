"""Which cases, events and files a person may see: the tenant rule for cases, in one place.

Customers see their own organization's cases and only the public part of
each timeline; support staff see everything. Anything else is a 404, never
a 403, so a customer cannot even learn that another organization's case exists.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from casedesk.accounts.models import User
from casedesk.accounts.services import staff_member
from casedesk.cases.models import Attachment, Case, Event, parse_reference


def cases_visible_to(user: User | AnonymousUser) -> QuerySet[Case]:
    if staff_member(user) is not None:
        return Case.objects.all()
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        return Case.objects.none()
    # A customer sees their one organization's cases (accounts.organizations_visible_to),
    # asked as an equality rather than "IN (subquery)": SQLite then walks the
    # organization's index in case order instead of sorting all of its cases first (the
    # API's customer list at 100,000 cases on SQLite, bench/api.py: p95 360 -> 22 ms).
    return Case.objects.filter(organization_id=user.organization_id or 0)


def case_for_user(user: User | AnonymousUser, reference: str) -> Case:
    """The case ``reference`` names (``CD-1042``), if this person may see it; else 404."""
    pk = parse_reference(reference)
    if pk is None:
        raise Http404("no such case")
    case = (
        cases_visible_to(user)
        .select_related("priority", "organization", "requester", "assignee")
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404("no such case")
    return case


def timeline_for(user: User | AnonymousUser, case: Case) -> QuerySet[Event]:
    """The events this person may see, each with the files they may see."""
    events = case.events.select_related("author")
    if staff_member(user) is not None:
        from casedesk.mail.models import InboundMessage

        # The desk links an emailed event to the whole message ("full message").
        mails = InboundMessage.objects.only("pk", "event_id")
        return events.prefetch_related("attachments", Prefetch("inbound_messages", queryset=mails))
    return events.filter(public=True).prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.filter(public=True))
    )


def attachment_for_user(user: User | AnonymousUser, reference: str, pk: int) -> Attachment:
    case = case_for_user(user, reference)
    files = case.attachments.all()
    if staff_member(user) is None:
        files = files.filter(public=True)
    attachment = files.filter(pk=pk).first()
    if attachment is None:
        raise Http404("no such file")
    return attachment
