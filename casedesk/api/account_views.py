"""/accounts/tokens/: a person's own API tokens: make one (shown once), see, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from casedesk.accounts.models import User
from casedesk.api import services
from casedesk.api.forms import TokenForm
from casedesk.api.models import ApiToken


def _person(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required let it through
    return request.user


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    made: str | None = None
    status = 200
    if request.method == "POST":
        form = TokenForm(request.POST, person=person)
        if form.is_valid():
            try:
                _row, made = services.create(
                    services.NewToken(
                        person,
                        form.cleaned_data["name"],
                        form.cleaned_data["scopes"],
                        services.parse_term(form.cleaned_data["expires"]),
                    )
                )
            except services.TokenError as exc:
                form.add_error(None, str(exc))
                status = 400
            else:
                form = TokenForm(person=person)
        else:
            status = 400
    else:
        form = TokenForm(person=person)
    response = render(
        request,
        "api/tokens.html",
        {"form": form, "made": made, "tokens": services.tokens_of(person)},
        status=status,
    )
    if made:
        response["Cache-Control"] = "no-store"  # the one page that shows the token
    return response


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    row = get_object_or_404(ApiToken, pk=pk, person=person)  # only one's own
    if services.revoke(row, by=person):
        messages.success(request, f"Token {row.prefix}… ({row.name}) is revoked.")
    return redirect("api_tokens")
