"""Send a person who owes a second factor to give it before anything else."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

# Pages a person may see before the second step: the step itself, log-out,
# help, static files and the health probe.
_OPEN_PREFIXES = ("/accounts/two-factor/", "/accounts/logout/", "/help/", "/static/", "/health/")


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        target = self._owed_step(request)
        if target is not None and not request.path.startswith(_OPEN_PREFIXES):
            return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _owed_step(request: HttpRequest) -> str | None:
        from casedesk.accounts.models import User
        from casedesk.accounts.two_factor import confirmed_device, required_for

        user = getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_vendor_staff:
            return None  # customers and visitors: nothing owed
        if user.is_verified():  # type: ignore[attr-defined]  # set by django-otp's middleware
            return None
        if confirmed_device(user) is not None:
            return reverse("two_factor_verify")
        if required_for(user):
            return reverse("two_factor")
        return None
