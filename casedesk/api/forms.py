from __future__ import annotations

from typing import Any

from django import forms

from casedesk.accounts.models import User
from casedesk.api import services
from casedesk.api.models import Scope

TERMS = [("30d", "30 days"), ("90d", "90 days"), ("366d", "1 year"), ("never", "Never")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “CRM sync”.")
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=[])
    expires = forms.ChoiceField(choices=TERMS, initial="90d", label="Expires after")

    def __init__(self, *args: Any, person: User, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "token_%s")
        super().__init__(*args, **kwargs)
        labels = dict(Scope.choices)
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (scope, labels[scope]) for scope in services.allowed_scopes(person)
        ]
