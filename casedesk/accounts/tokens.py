"""One-time links: Django's password reset tokens, and invitations built the same way.

Both hash the password and last log-in into the token, so a link dies the
moment it is used; both expire (PASSWORD_RESET_TIMEOUT, INVITE_LINK_LIFETIME).
An invitation uses its own salt, so a reset link never works as an invitation
or the other way round.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class InviteTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "casedesk.accounts.tokens.InviteTokenGenerator"

    def check_token(self, user: Any, token: str | None) -> bool:
        if not (user and token):
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        age = self._num_seconds(self._now()) - ts
        return bool(0 <= age <= settings.INVITE_LINK_LIFETIME.total_seconds())


invite_token_generator = InviteTokenGenerator()
