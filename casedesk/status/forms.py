from __future__ import annotations

from typing import Any

from django import forms

from casedesk.accounts.models import normalize_email
from casedesk.status.models import Component, ComponentStatus, IncidentStatus, UpdateTemplate


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254)
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        to_field_name="public_id",
        help_text="Choose none to hear about everything.",
    )

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class _OwnIds(forms.Form):
    """A form whose element ids start with its own word ("incident_name"), so two forms on
    one page (a new incident and a new maintenance) never share an id and each label
    points at its own field. The field names, which requests post, stay the same."""

    id_word = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_word}_%s" if self.id_word else "id_%s")
        super().__init__(*args, **kwargs)


class _Timeline(_OwnIds):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), help_text="Markdown.")
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and webhooks"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One select per component: leave it unchanged, or set a status.
        for component in Component.objects.order_by("group__position", "position", "name"):
            self.fields[f"component_{component.public_id}"] = forms.ChoiceField(
                label=str(component),
                required=False,
                choices=[
                    ("", f"unchanged ({component.get_status_display()})"),
                    *ComponentStatus.choices,
                ],
            )

    def component_statuses(self) -> dict[Component, str]:
        chosen = {}
        for component in Component.objects.all():
            value = self.cleaned_data.get(f"component_{component.public_id}")
            if value:
                chosen[component] = value
        return chosen

    def component_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("component_")]


class IncidentForm(_Timeline):
    id_word = "incident"
    name = forms.CharField(max_length=200)
    impact = forms.ChoiceField(
        choices=[("none", "None"), ("minor", "Minor"), ("major", "Major"), ("critical", "Critical")]
    )
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    field_order = ["name", "impact", "status", "body", "notify"]


class UpdateForm(_Timeline):
    id_word = "update"
    status = forms.ChoiceField(choices=[])
    field_order = ["status", "body", "notify"]

    def __init__(self, *args: Any, statuses: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = statuses  # type: ignore[attr-defined]


class MaintenanceForm(_OwnIds):
    id_word = "maintenance"
    name = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="Markdown.")
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    scheduled_for = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In your time zone. Leave empty for unscheduled maintenance starting now.",
    )
    scheduled_until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and webhooks"
    )


class RescheduleForm(_OwnIds):
    id_word = "reschedule"
    scheduled_for = forms.DateTimeField(
        required=False,
        label="New start",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In your time zone. Ignored once the work has started.",
    )
    scheduled_until = forms.DateTimeField(
        label="New end", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    body = forms.CharField(
        label="What changed",
        widget=forms.Textarea(attrs={"rows": 3}),
        initial="The maintenance window has moved.",
    )
    notify = forms.BooleanField(
        required=False, initial=True, label="Notify subscribers and webhooks"
    )


class LinkCaseForm(forms.Form):
    reference = forms.CharField(max_length=20, label="Case reference", help_text="e.g. CD-1042")


class TemplateChoiceForm(forms.Form):
    template = forms.ModelChoiceField(queryset=UpdateTemplate.objects.all(), required=False)
