from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
)
from django.db.models import QuerySet

from casedesk.accounts.models import User, normalize_email, plausible_email
from casedesk.core.mail import send_templated


class EmailLoginForm(AuthenticationForm):
    """Django's log-in form, asking for the email address.

    The field keeps Django's name ``username`` (axes and the standard templates
    expect it); its label and keyboard are an email address's. A wrong address
    and a wrong password get the same message.
    """

    username = forms.CharField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That email address and password do not match an account. "
            "Check both (the password is case-sensitive), or reset your password."
        ),
    }

    def clean_username(self) -> str:
        email = plausible_email(self.cleaned_data["username"])
        if not email:  # not an address, so not a guess at one either
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        return email


class ResetRequestForm(PasswordResetForm):
    """Django's "forgot your password" form, for casedesk's accounts.

    Invited people who never set a password may use it too: their first link
    may have expired. Inactive accounts get nothing (and the page says the same).
    """

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def clean_email(self) -> str:
        email = plausible_email(self.cleaned_data["email"])
        if not email:
            raise forms.ValidationError("Enter a valid email address.", code="invalid")
        return email

    def get_users(self, email: str) -> QuerySet[User]:
        return User.objects.filter(email=normalize_email(email), is_active=True)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Send, and let a failure reach the task (Django's own logs it and moves on).

        The three names Django passes are those of send_templated's scheme
        (``<template>_subject.txt``, ``<template>.txt``, ``<template>.html``).
        """
        template = email_template_name.removesuffix(".txt")
        if (subject_template_name, html_email_template_name) != (
            f"{template}_subject.txt",
            f"{template}.html",
        ):
            raise ValueError(f"reset mail templates must be {template}_subject.txt, .txt, .html")
        send_templated(template, context, [to_email], from_email)


class NewPasswordForm(SetPasswordForm):  # type: ignore[type-arg]
    """Django's set-password form with plainer labels."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password2"].label = "Confirm new password"


class ChangePasswordForm(PasswordChangeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password2"].label = "Confirm new password"


class TokenForm(forms.Form):
    """A 6-digit code from an authenticator app."""

    token = forms.CharField(
        label="6-digit code",
        min_length=6,
        max_length=8,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "autofocus": True,
            }
        ),
    )

    def clean_token(self) -> str:
        token = "".join(self.cleaned_data["token"].split())
        if not token.isdigit():
            raise forms.ValidationError("Enter the digits your authenticator app shows.")
        return token


class UnlockForm(forms.Form):
    email = forms.CharField(max_length=254)

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])
