"""The portal's forms: they check the shape of the input; ``cases.services`` checks the rules.

A rule a case must follow (a subject, the critical characteristics, the files)
lives in ``services`` and comes back as a :class:`~casedesk.cases.services.CaseError`,
which :func:`show_case_error` puts next to the fields it names.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django import forms
from django.utils.functional import cached_property

from casedesk.cases.models import Characteristic, Priority
from casedesk.cases.services import CaseError


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); size and type rules: services."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


# What secrets.token_urlsafe makes, 16 to 64 characters (Case.submission_token's length).
SUBMISSION_TOKEN_RE = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")

FILES_HELP = "Logs, screenshots, HAR captures or archives; you can choose several files."


class NewCaseForm(forms.Form):
    subject = forms.CharField(
        label="Subject",
        required=False,  # services says what a good subject is
        max_length=400,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 200}),
        error_messages={"max_length": "Keep the subject under 200 characters."},
    )
    description = forms.CharField(
        label="What happened?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What you did, what you expected, what happened instead, and since when.",
    )
    priority = forms.ModelChoiceField(
        label="Priority",
        queryset=Priority.objects.all(),
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a priority.",
            "invalid_choice": "Choose one of the priorities listed.",
        },
    )
    characteristics = forms.MultipleChoiceField(
        label="Which of these apply?",
        required=False,
        choices=Characteristic.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose from (a), (b) and (c) only."},
    )
    business_impact = forms.CharField(
        label="Business impact",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Who cannot work, how many people, and since when.",
    )
    attachments = MultipleFileField(label="Files", help_text=FILES_HELP)
    # One random token per displayed form (services.open_case opens one case per token):
    # posting the same form twice shows the case the first post opened. Optional, so a
    # form without it (an older page, a script) still opens a case, without that guard.
    submission = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        token = cleaned.get("submission") or ""
        if token and not SUBMISSION_TOKEN_RE.fullmatch(token):
            cleaned["submission"] = ""
            raise forms.ValidationError(
                "This form was damaged in transit: check the fields and submit it again."
            )
        return cleaned

    @cached_property
    def submission_token(self) -> str:
        """The token the page carries: the posted one (a form shown again with its errors
        keeps it, so its corrected post is still one submission), else a new one."""
        posted = self.data.get("submission", "") if self.is_bound else ""
        if isinstance(posted, str) and SUBMISSION_TOKEN_RE.fullmatch(posted):
            return posted
        return secrets.token_urlsafe(24)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply",
        required=False,  # a reply may be files only; services decides
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    attachments = MultipleFileField(label="Files", help_text=FILES_HELP)


def show_case_error(form: forms.Form, error: CaseError) -> None:
    """Put each of the error's messages next to its field ("" and unknown names: the whole form)."""
    for name, messages in error.errors.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
