"""Desk pages where agents create and update incidents and maintenance, and link cases.

Staff only (``cases.desk_views.staff_only``: a 404 for anyone else). Views read a
form, call ``status.services`` and put its ``StatusError`` messages back on the
form; after a successful POST they redirect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from casedesk.accounts.models import User
from casedesk.cases.access import case_for_user
from casedesk.cases.desk_views import staff_only
from casedesk.status import services
from casedesk.status.api import with_timeline
from casedesk.status.forms import (
    IncidentForm,
    LinkCaseForm,
    MaintenanceForm,
    RescheduleForm,
    UpdateForm,
)
from casedesk.status.models import (
    CLOSED_STATUSES,
    Incident,
    IncidentCase,
    IncidentStatus,
    Kind,
    MaintenanceStatus,
    UpdateTemplate,
)

RECENT_SHOWN = 20

_View = TypeVar("_View", bound=Callable[..., HttpResponse])


def _posted_here(back: Callable[..., str]) -> Callable[[_View], _View]:
    """A form's URL takes its POST; a GET of it (a reload of the page a failed submit
    showed, a bookmark) goes back to the page with the form instead of a blank 405.
    ``back(**url_kwargs)`` is that page's URL."""

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        @require_http_methods(["GET", "HEAD", "POST"])
        def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method != "POST":
                return redirect(back(**kwargs))
            return view(request, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def _to_list(anchor: str) -> Callable[..., str]:
    return lambda: f"{reverse('status_desk:list')}#{anchor}"


def _to_incident(public_id: str) -> str:
    return reverse("status_desk:incident", args=[public_id])


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # staff_only let it through
    return request.user


def _errors_onto(form: forms.Form, exc: services.StatusError) -> None:
    for field, errors in exc.errors.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _list(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    everything = Incident.objects.prefetch_related("components")
    context = {
        "open": everything.exclude(status__in=CLOSED_STATUSES).order_by("kind", "-started_at"),
        "recent": everything.filter(status__in=CLOSED_STATUSES)[:RECENT_SHOWN],
        "incident_form": forms_.get("incident_form")
        or IncidentForm(initial=_template_initial(request, Kind.INCIDENT)),
        "maintenance_form": forms_.get("maintenance_form") or MaintenanceForm(),
        "templates": UpdateTemplate.objects.filter(kind=Kind.INCIDENT),
    }
    return render(request, "status/desk/list.html", context, status=status)


def _template_initial(request: HttpRequest, kind: str) -> dict[str, Any]:
    """A chosen update template fills the form (``?template=<id>``)."""
    chosen = request.GET.get("template", "")
    template = (
        UpdateTemplate.objects.filter(pk=int(chosen), kind=kind).first()
        if chosen.isascii() and chosen.isdigit() and len(chosen) < 10
        else None
    )
    if template is None:
        return {"notify": True}
    initial: dict[str, Any] = {"body": template.body, "notify": True}
    if template.update_status:
        initial["status"] = template.update_status
    return initial


@login_required
@staff_only
@require_safe
def incident_list(request: HttpRequest) -> HttpResponse:
    return _list(request)


def _act(
    request: HttpRequest,
    form: forms.Form,
    action: Callable[[dict[str, Any], User], Incident],
    done: str,
    again: Callable[[], HttpResponse],
) -> HttpResponse:
    """Validate ``form``, run ``action`` (which returns the incident to show next) and
    redirect there; or answer ``again()`` (the page, 400) with the form's and the
    services' messages."""
    if form.is_valid():
        try:
            made = action(form.cleaned_data, _user(request))
        except services.StatusError as exc:
            _errors_onto(form, exc)
        else:
            messages.success(request, done.format(name=made.name))
            return redirect("status_desk:incident", made.public_id)
    return again()


@login_required
@staff_only
@_posted_here(_to_list("new-incident"))
def new_incident(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST)

    def make(data: dict[str, Any], by: User) -> Incident:
        first = services.Posting(
            data["status"], data["body"], form.component_statuses(), data["notify"]
        )
        return services.create_incident(
            services.NewIncident(name=data["name"], impact=data["impact"], first=first), by
        )

    return _act(
        request,
        form,
        make,
        "Incident “{name}” is on the status page.",
        lambda: _list(request, status=400, incident_form=form),
    )


@login_required
@staff_only
@_posted_here(_to_list("new-maintenance"))
def new_maintenance(request: HttpRequest) -> HttpResponse:
    def make(data: dict[str, Any], by: User) -> Incident:
        return services.create_maintenance(
            services.NewMaintenance(
                name=data["name"],
                body=data["body"],
                components=list(data["components"]),
                scheduled_for=data["scheduled_for"],
                scheduled_until=data["scheduled_until"],
                notify=data["notify"],
            ),
            by,
        )

    form = MaintenanceForm(request.POST)
    return _act(
        request,
        form,
        make,
        "Maintenance “{name}” is on the status page.",
        lambda: _list(request, status=400, maintenance_form=form),
    )


def _statuses(incident: Incident) -> list[tuple[str, str]]:
    return MaintenanceStatus.choices if incident.is_maintenance else IncidentStatus.choices


def _incident_page(
    request: HttpRequest, incident: Incident, status: int = 200, **forms_: Any
) -> HttpResponse:
    initial = _template_initial(request, incident.kind)
    initial.setdefault("status", incident.status)
    context = {
        "incident": incident,
        "update_form": forms_.get("update_form")
        or UpdateForm(initial=initial, statuses=_statuses(incident)),
        "link_form": forms_.get("link_form") or LinkCaseForm(),
        "reschedule_form": forms_.get("reschedule_form")
        or RescheduleForm(
            initial={
                "scheduled_for": incident.scheduled_for,
                "scheduled_until": incident.scheduled_until,
            }
        ),
        "links": IncidentCase.objects.filter(incident=incident).select_related(
            "case", "case__organization"
        ),
        "templates": UpdateTemplate.objects.filter(kind=incident.kind),
        "now": timezone.now(),
    }
    return render(request, "status/desk/incident.html", context, status=status)


def _incident(public_id: str) -> Incident:
    return get_object_or_404(with_timeline(Incident.objects.all()), public_id=public_id)


@login_required
@staff_only
@require_safe
def incident_page(request: HttpRequest, public_id: str) -> HttpResponse:
    return _incident_page(request, _incident(public_id))


@login_required
@staff_only
@_posted_here(_to_incident)
def post_update(request: HttpRequest, public_id: str) -> HttpResponse:
    incident = _incident(public_id)
    form = UpdateForm(request.POST, statuses=_statuses(incident))

    def post(data: dict[str, Any], by: User) -> Incident:
        statuses = form.component_statuses()
        posting = services.Posting(data["status"], data["body"], statuses, data["notify"])
        services.post_update(incident, posting, by)
        return incident

    def again() -> HttpResponse:
        return _incident_page(request, incident, status=400, update_form=form)

    return _act(request, form, post, "Update posted.", again)


@login_required
@staff_only
@_posted_here(_to_incident)
def reschedule(request: HttpRequest, public_id: str) -> HttpResponse:
    maintenance = _incident(public_id)
    form = RescheduleForm(request.POST)

    def move(data: dict[str, Any], by: User) -> Incident:
        services.reschedule(
            maintenance,
            data["scheduled_for"],
            data["scheduled_until"],
            data["body"],
            by,
            notify=data["notify"],
        )
        return maintenance

    def again() -> HttpResponse:
        return _incident_page(request, maintenance, status=400, reschedule_form=form)

    return _act(request, form, move, "The window has moved.", again)


@login_required
@staff_only
@_posted_here(_to_list("open-incidents"))
def link_case(request: HttpRequest) -> HttpResponse:
    """Link a case to an incident, from the incident page or from the case page."""
    incident = get_object_or_404(Incident, public_id=request.POST.get("incident", ""))
    form = LinkCaseForm(request.POST)
    if not form.is_valid():
        return _incident_page(request, _incident(incident.public_id), status=400, link_form=form)
    case = case_for_user(request.user, form.cleaned_data["reference"])
    try:
        services.link_case(incident, case, _user(request))
    except services.StatusError as exc:
        if request.POST.get("next") == "case":
            messages.error(request, str(exc))
            return redirect("desk:case", case.reference)
        _errors_onto(form, exc)
        return _incident_page(request, _incident(incident.public_id), status=400, link_form=form)
    messages.success(request, f"{case.reference} is linked to “{incident.name}”.")
    if request.POST.get("next") == "case":
        return redirect("desk:case", case.reference)
    return redirect("status_desk:incident", incident.public_id)
