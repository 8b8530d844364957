"""Log-in, log-out, password reset and change, invitations, lock-out and unlocking.

Django's own auth views do the work; these subclasses add what casedesk
promises on top: per-network rate limits, reset mail sent from the worker for
every address alike (nothing to learn from the page or its timing), an unlock
when a reset succeeds, and the lock-out page with its help link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST

from casedesk.accounts import lockout, policies, services
from casedesk.accounts.forms import (
    ChangePasswordForm,
    EmailLoginForm,
    NewPasswordForm,
    ResetRequestForm,
    UnlockForm,
)
from casedesk.accounts.models import LockoutEvent, Role, User
from casedesk.accounts.redirects import safe_target
from casedesk.accounts.tasks import send_password_reset
from casedesk.accounts.tokens import invite_token_generator
from casedesk.accounts.two_factor import confirmed_device
from casedesk.core.ratelimit import Decision, RatePolicy, attempt, refund
from casedesk.lib.durations import humanize_duration


def _whole_minutes(wait: timedelta) -> int:
    """A wait in minutes, rounded up, at least 1: "try again in about N minutes"."""
    return max(1, -(-int(wait.total_seconds()) // 60))


def _too_many(request: HttpRequest, policy: RatePolicy, decision: Decision) -> HttpResponse:
    """The page for a network over a rate limit: says when to try again, nothing more."""
    wait = decision.retry_after or policy.rate.period
    response = render(
        request,
        "accounts/rate_limited.html",
        {"retry_at": timezone.now() + wait, "minutes": _whole_minutes(wait)},
        status=429,
    )
    response["Retry-After"] = str(max(1, int(wait.total_seconds())))
    return response


def _count_network(
    request: HttpRequest, policy: RatePolicy
) -> tuple[str | None, HttpResponse | None]:
    """Count this request against its network's limit: (the network's key, or the 429 page)."""
    network = lockout.network_key(request)
    if network is None:
        return None, None
    decision = attempt(policy, network)
    return network, None if decision.allowed else _too_many(request, policy, decision)


class LoginView(auth_views.LoginView):
    form_class = EmailLoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Counted before the password is checked, given back if it was right:
        # parallel guesses cannot all slip past a check made before any is counted.
        network, refusal = _count_network(request, policies.LOGIN_FAILURES_PER_IP)
        if refusal is not None:
            return refusal
        response = super().post(request, *args, **kwargs)
        tried = bool(request.POST.get("username") and request.POST.get("password"))
        if network is not None and (request.user.is_authenticated or not tried):
            refund(policies.LOGIN_FAILURES_PER_IP, network)
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        # Warn before the attempt that locks: the count is kept for every address
        # typed, known or not, so the warning tells nothing about accounts.
        email = lockout.submitted_email(self.request, None)
        if email and form.data.get("password") and lockout.active_lock(email) is None:
            left = settings.LOCKOUT_FAILURES - lockout.failures_counted(email)
            if 0 < left <= 2:
                form.add_error(
                    None,
                    f"{left} more wrong password{'s' if left > 1 else ''} will lock this "
                    f"address for {humanize_duration(settings.LOCKOUT_DURATION)}. "
                    "Not sure of it? Use “Forgot your password?” instead.",
                )
        return super().form_invalid(form)

    def get_redirect_url(self) -> str:
        # ?next= the log-in page itself would loop (Django raises on it): go to the default.
        url = super().get_redirect_url()
        return "" if url and urlsplit(url).path == self.request.path else url

    def get_success_url(self) -> str:
        # A link into the desk or the admin, followed by someone who may not go there,
        # lands on their own front page rather than on a 404. (Decided once logged in:
        # get_redirect_url also fills the form's hidden ?next= for the anonymous visitor.)
        url = super().get_success_url()
        path = urlsplit(url).path
        user = self.request.user
        if (path.startswith("/desk/") and not getattr(user, "is_vendor_staff", False)) or (
            path.startswith("/admin/") and not getattr(user, "is_staff", False)
        ):
            return resolve_url(settings.LOGIN_REDIRECT_URL)
        return url


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponseBase:
    """The admin's log-in URL: one log-in page for everyone (rate limits, lock-out, 2FA)."""
    target = safe_target(request, request.GET.get("next")) or reverse("admin:index")
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    if not getattr(request.user, "is_staff", False):
        # Not a redirect loop; and an agent, who is support staff, must not be told that
        # the admin is for support staff.
        return render(request, "accounts/forbidden.html", {"page_is_for": "admins"}, status=403)
    return HttpResponseRedirect(target)


def locked_out(
    request: HttpRequest, *args: Any, email: str | None = None, **kwargs: Any
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the page for a locked address, known or not.

    Says that the account is locked for now, until when, and how to get back in
    (the lock-out article). Never whether the address has an account: unknown
    addresses are locked and shown this page in exactly the same way.
    """
    email = email or lockout.submitted_email(request, None)
    lock = lockout.active_lock(email) if email else None
    until = lock.until if lock else timezone.now() + settings.LOCKOUT_DURATION
    return render(
        request,
        "accounts/locked_out.html",
        {
            "until": until,
            "minutes": _whole_minutes(until - timezone.now()),
            "failures": settings.LOCKOUT_FAILURES,
        },
        status=429,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """ "Forgot your password?": the same answer for every address, at most N mails an hour."""

    form_class = ResetRequestForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _, refusal = _count_network(request, policies.RESET_PER_IP)
        return refusal or super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        # Over the per-address limit: the same page, and no mail.
        if attempt(policies.RESET_PER_ADDRESS, email).allowed:
            send_password_reset.enqueue(email)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["lifetime_minutes"] = settings.PASSWORD_RESET_TIMEOUT // 60
        return context


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password from the mailed link; a success also ends a lock-out."""

    template_name = "accounts/password_reset_confirm.html"
    form_class = NewPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: SetPasswordForm[Any]) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        lockout.unlock(
            user.email,
            reason=LockoutEvent.Reason.PASSWORD_RESET,
            ip_address=lockout.client_ip(self.request),
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class InviteConfirmView(PasswordResetConfirmView):
    """An invited person sets their first password, then is logged in."""

    template_name = "accounts/invite_confirm.html"
    token_generator = invite_token_generator
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("account")
    reset_url_token = "welcome"  # noqa: S105 - the URL word Django puts in place of the token


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change the password; every other session of this person ends (Django's session hash)."""

    template_name = "accounts/password_change_form.html"
    form_class = ChangePasswordForm
    success_url = reverse_lazy("password_change_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The old-password check is a password check too: it obeys the lock-out.
        assert isinstance(request.user, User)
        if lockout.active_lock(request.user.email) is not None:
            return locked_out(request, email=request.user.email)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if "old_password" in form.errors and form.data.get("old_password"):
            assert isinstance(self.request.user, User)
            email = self.request.user.email
            if lockout.record_failure(email, lockout.client_ip(self.request)) is not None:
                return locked_out(self.request, email=email)
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Password changed. Your other sessions were logged out.")
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Who you are, your organization, and the things you can do about your log-in."""
    user = request.user
    assert isinstance(user, User)
    return render(
        request,
        "accounts/account.html",
        {"person": user, "two_factor_on": confirmed_device(user) is not None},
    )


def _visible_locks(user: User) -> list[dict[str, Any]]:
    """Locked addresses this person may see and unlock (services.addresses_managed_by)."""
    locks = lockout.locked_now()
    emails = [lock.email for lock in locks]
    managed = services.addresses_managed_by(user, emails)
    people = {p.email: p for p in User.objects.filter(email__in=managed)}
    return [
        {"lock": lock, "person": people.get(lock.email)} for lock in locks if lock.email in managed
    ]


@login_required
def locked_accounts(request: HttpRequest) -> HttpResponse:
    """The desk's list of locked accounts, with the recent lock and unlock log."""
    user = services.staff_member(request.user)
    if user is None:
        return render(request, "accounts/forbidden.html", status=403)
    events = LockoutEvent.objects.select_related("by")
    if user.role != Role.ADMIN:
        events = events.filter(email__in=services.customers_visible_to(user).values("email"))
    return render(
        request,
        "accounts/locked_accounts.html",
        {"rows": _visible_locks(user), "events": events[:200]},
    )


def _account_to_act_on(
    request: HttpRequest, *, must_exist: bool
) -> tuple[User, str] | HttpResponseBase:
    """The staff member and the posted address they may act on, or the page saying why not."""
    user = services.staff_member(request.user)
    if user is None:
        return render(request, "accounts/forbidden.html", status=403)
    form = UnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say which address.")
        return redirect("locked_accounts")
    email = form.cleaned_data["email"]
    if email not in services.addresses_managed_by(user, [email]) or (
        must_exist and not User.objects.filter(email=email).exists()
    ):
        return render(request, "accounts/forbidden.html", status=403)
    return user, email


@require_POST
@login_required
def send_reset_link(request: HttpRequest) -> HttpResponseBase:
    """An agent on the phone mails a customer a reset link (the same mail they could ask for)."""
    allowed = _account_to_act_on(request, must_exist=True)
    if isinstance(allowed, HttpResponseBase):
        return allowed
    _, email = allowed
    if attempt(policies.RESET_PER_ADDRESS, email).allowed:
        send_password_reset.enqueue(email)
        messages.success(request, f"A password reset link is on its way to {email}.")
    else:
        messages.error(
            request,
            f"{email} has had as many reset mails as allowed for now; ask them to check spam.",
        )
    return redirect("locked_accounts")


@require_POST
@login_required
def unlock_account(request: HttpRequest) -> HttpResponseBase:
    allowed = _account_to_act_on(request, must_exist=False)
    if isinstance(allowed, HttpResponseBase):
        return allowed
    user, email = allowed
    if lockout.unlock(
        email,
        reason=LockoutEvent.Reason.BY_STAFF,
        by=user,
        ip_address=lockout.client_ip(request),
    ):
        messages.success(request, f"{email} is unlocked and can log in again.")
    else:
        messages.info(request, f"{email} was not locked (the lock may have just ended).")
    return redirect(reverse("locked_accounts"))
