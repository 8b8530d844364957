"""Forms of the agent desk: the queue's filters and the actions on one case.

The forms only check the shape of the input (a known status, a priority that
exists, an agent who can take cases); the rules themselves stay in
``cases.services``, whose ``CaseError`` messages the views put back on these forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from casedesk.accounts.models import Organization, Role, User
from casedesk.cases.models import ACTIVE_STATUSES, Characteristic, Priority, Status


def staff_people() -> QuerySet[User]:
    """Everyone a case can go to: active agents and admins."""
    return User.objects.filter(is_active=True, role__in=(Role.AGENT, Role.ADMIN)).order_by(
        "full_name", "email"
    )


class StaffChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        person: User = obj
        return f"{person.full_name} ({person.email})" if person.full_name else person.email


# ---- The queue ------------------------------------------------------------------------


SHOW_CHOICES = [
    ("", "All active cases"),
    ("mine", "Assigned to me"),
    ("unassigned", "Unassigned"),
    ("after_hours_critical", "Critical after hours"),
]


class QueueFilterForm(forms.Form):
    """GET filters of ``/desk/``; a value that does not fit is reported and ignored."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        help_text="A reference (CD-1042 or 1042), words of the subject, or the requester.",
    )
    show = forms.ChoiceField(choices=SHOW_CHOICES, required=False, label="Show")
    priority = forms.ModelChoiceField(
        queryset=Priority.objects.all(), required=False, empty_label="Any priority"
    )
    status = forms.ChoiceField(
        choices=[("", "Any active status")]
        + [(s.value, s.label) for s in Status if s in ACTIVE_STATUSES],
        required=False,
    )
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name"),
        required=False,
        empty_label="Any organization",
    )
    assignee = StaffChoiceField(queryset=staff_people(), required=False, empty_label="Anyone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A fresh query per form (the class attribute is evaluated lazily, but be explicit).
        self.fields["assignee"].queryset = staff_people()  # type: ignore[attr-defined]

    def valid_filters(self) -> dict[str, Any]:
        """The filters that validated (the form is bound); the others are left out."""
        self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.errors and value not in (None, "")
        }


# ---- Actions on a case ------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one ``<input type=file multiple>``; the services check them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if data in (None, "", []):
            return []
        uploads: Sequence[Any] = data if isinstance(data, list | tuple) else [data]
        single = super().clean
        return [single(upload, initial) for upload in uploads]


KEEP_STATUS = ""


class ActionForm(forms.Form):
    """One of several forms on the case page: ids carry the form's name so they stay unique."""

    id_prefix = "action"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class ReplyForm(ActionForm):
    id_prefix = "reply"

    kind = forms.ChoiceField(
        choices=[("reply", "Public reply (the customer sees it)"), ("note", "Internal note")],
        initial="reply",
        widget=forms.RadioSelect,
        label="Write",
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, label="Text")
    attachments = MultipleFileField(required=False, label="Attach files")
    status = forms.ChoiceField(
        choices=[(KEEP_STATUS, "Keep the status"), *Status.choices],
        required=False,
        label="And set the status to",
    )

    @property
    def public(self) -> bool:
        return bool(self.cleaned_data.get("kind") == "reply")


class StatusForm(ActionForm):
    id_prefix = "status"

    status = forms.ChoiceField(choices=Status.choices, label="New status")
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown on the timeline; the customer sees status changes.",
    )


class PriorityForm(ActionForm):
    id_prefix = "priority"

    priority = forms.ModelChoiceField(queryset=Priority.objects.all(), label="New priority")
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required: the customer sees why the priority changed.",
        error_messages={"required": "Say why the priority changes; the customer sees it."},
    )
    characteristics = forms.MultipleChoiceField(
        choices=Characteristic.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only when raising to critical: which characteristics apply.",
    )
    business_impact = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when raising to critical.",
    )


class DowngradeForm(ActionForm):
    id_prefix = "downgrade"

    priority = forms.ModelChoiceField(
        queryset=Priority.objects.filter(is_critical=False), label="Downgrade to"
    )
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Required. The customer sees this reason: say which part of the critical "
            "definition the case does not meet."
        ),
        error_messages={"required": "Say why the case is not critical; the customer sees it."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["priority"].queryset = Priority.objects.filter(  # type: ignore[attr-defined]
            is_critical=False
        )


class AssignForm(ActionForm):
    id_prefix = "assign"

    assignee = StaffChoiceField(
        queryset=staff_people(),
        required=False,
        empty_label="Nobody (unassigned)",
        label="Assign to",
        error_messages={"invalid_choice": "Cases go to active agents or admins only."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_people()  # type: ignore[attr-defined]
