"""Pages of the cases app shared by the portal and the desk: priorities and file downloads."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from casedesk.cases import files
from casedesk.cases.access import attachment_for_user
from casedesk.cases.models import Characteristic, Priority
from casedesk.hours.services import current_calendar, status


@require_safe
def priorities(request: HttpRequest) -> HttpResponse:
    """Public: each priority, its definition and its targets (PRODUCT.md, policy 6)."""
    calendar = current_calendar()
    return render(
        request,
        "cases/priorities.html",
        {
            "priorities": Priority.objects.all(),
            "characteristics": Characteristic.choices,
            "calendar": calendar,
            "hours": status(calendar),
        },
    )


@require_safe
@login_required
def download(request: HttpRequest, reference: str, pk: int, name: str) -> FileResponse:
    """A case's file, only for people who may see the case (404 for everyone else).

    Served by ``files.serve``, as every attachment: always a download, typed by our own
    allow-list and sandboxed, so a file can never run as a page of our origin.
    """
    attachment = attachment_for_user(request.user, reference, pk)
    return files.serve(attachment.file, attachment.name, attachment.content_type)
