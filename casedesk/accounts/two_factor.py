"""Two-factor log-in for agents and admins: a TOTP authenticator app (django-otp).

After the password, a person with a confirmed device is asked for a code
(``TwoFactorMiddleware`` sends every page there until it is given). When the
account policy requires it, agents and admins without a device are sent to
set one up first. Codes are checked by django-otp's TOTP device, which also
throttles wrong guesses (each failure doubles the wait).
"""

from __future__ import annotations

import base64
import textwrap
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from casedesk.accounts.forms import TokenForm
from casedesk.accounts.models import AccountPolicy, User
from casedesk.accounts.redirects import safe_target


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def required_for(user: User) -> bool:
    return user.is_vendor_staff and AccountPolicy.current().require_two_factor_for_agents


def _safe_next(request: HttpRequest, default: str) -> str:
    """Where to go next: ?next= if it is a path on this site, else the named default."""
    target = safe_target(request, request.POST.get("next") or request.GET.get("next"))
    return target or (resolve_url(default) if default else "")


def _qr_svg(url: str) -> str:
    """The otpauth:// URL as an inline SVG QR code (no image request, no third party)."""
    # omitsize: a viewBox and no fixed width/height, so CSS scales the whole code
    # (a fixed size under max-width crops it, and a cropped code does not scan).
    svg = segno.make(url, error="m").svg_inline(scale=5, dark="#1d2430", omitsize=True)
    label = 'role="img" aria-label="QR code for your authenticator app"'
    return str(svg).replace("<svg ", f"<svg {label} ", 1)


def _check(device: TOTPDevice, form: TokenForm) -> bool:
    if not form.is_valid():
        return False
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        form.add_error("token", "Too many wrong codes: wait a little, then try again.")
        return False
    if not device.verify_token(form.cleaned_data["token"]):
        form.add_error("token", "That code is not right. Enter the code your app shows now.")
        return False
    return True


@login_required
def setup(request: HttpRequest) -> HttpResponseBase:
    """Turn two-factor on: scan the code, confirm with one token."""
    user = request.user
    assert isinstance(user, User)
    if not user.is_vendor_staff:
        return render(request, "accounts/forbidden.html", status=403)
    device = confirmed_device(user)
    if device is not None:
        return render(
            request,
            "accounts/two_factor.html",
            {"enabled": True, "required": required_for(user), "form": TokenForm()},
        )
    # The key to show is made on the first visit and kept until confirmed, so a
    # reload shows the same code. Two tabs at once may each make one: use the
    # newest, and drop the others.
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if pending is None:
        pending = TOTPDevice.objects.create(user=user, confirmed=False, name="Authenticator app")
    TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=pending.pk).delete()
    form = TokenForm(request.POST or None)
    if request.method == "POST" and _check(pending, form):
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        otp_login(request, pending)
        messages.success(request, "Two-factor log-in is on: log-ins will ask for a code.")
        return redirect(_safe_next(request, "account"))
    return render(
        request,
        "accounts/two_factor.html",
        {
            "enabled": False,
            "required": required_for(user),
            "form": form,
            "qr_svg": _qr_svg(pending.config_url),
            "secret": " ".join(textwrap.wrap(base64.b32encode(pending.bin_key).decode(), 4)),
            "next": _safe_next(request, ""),
        },
    )


@require_POST
@login_required
def disable(request: HttpRequest) -> HttpResponseBase:
    """Turn two-factor off, with a current code; not allowed where the policy requires it."""
    user = request.user
    assert isinstance(user, User)
    device = confirmed_device(user)
    if device is None:
        return redirect("two_factor")
    if required_for(user):
        messages.error(request, "Two-factor log-in is required for agents here; it stays on.")
        return redirect("two_factor")
    form = TokenForm(request.POST)
    if not _check(device, form):
        return render(
            request,
            "accounts/two_factor.html",
            {"enabled": True, "required": False, "form": form},
            status=400,
        )
    TOTPDevice.objects.filter(user=user).delete()
    messages.success(request, "Two-factor log-in is off.")
    return redirect("account")


@login_required
def verify(request: HttpRequest) -> HttpResponseBase:
    """The second step of logging in: the code from the authenticator app."""
    user = request.user
    assert isinstance(user, User)
    device = confirmed_device(user)
    if device is None:
        return redirect(_safe_next(request, "account"))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and _check(device, form):
        otp_login(request, device)
        return redirect(_safe_next(request, "account"))
    context: dict[str, Any] = {"form": form, "next": _safe_next(request, "")}
    return render(request, "accounts/two_factor_verify.html", context)
