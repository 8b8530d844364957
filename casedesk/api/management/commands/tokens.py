"""`casedesk tokens create|list|revoke`: personal API tokens from the command line."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from casedesk.accounts.models import User
from casedesk.api import services
from casedesk.api.models import ApiToken


class Command(BaseCommand):
    help = "API tokens: make one (printed once), list them, or revoke one by its prefix."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token for a person; prints it once")
        create.add_argument("--user", required=True, help="the person's email address")
        create.add_argument("--name", default="command line", help="what the token is for")
        create.add_argument(
            "--scopes",
            default="",
            help="comma-separated, e.g. cases:read,cases:write (default: every read scope "
            "the person may have)",
        )
        create.add_argument("--expires", default="90d", help="90d, 12h, 8w or never")
        listing = sub.add_parser("list", help="tokens, newest first")
        listing.add_argument("--user", default="", help="only this person's")
        revoke = sub.add_parser("revoke", help="end a token now")
        revoke.add_argument("prefix", help="the token's start, cd_ and 8 characters")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options)
        elif action == "list":
            self._list(options["user"])
        else:
            self._revoke(options["prefix"].strip())

    def _create(self, options: dict[str, Any]) -> None:
        person = User.objects.filter(email__iexact=options["user"].strip()).first()
        if person is None:
            raise CommandError(f"no person has the address {options['user']!r}")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()] or [
            s for s in services.allowed_scopes(person) if s.endswith(":read")
        ]
        try:
            term = services.parse_term(options["expires"])
            row, token = services.create(services.NewToken(person, options["name"], scopes, term))
        except services.TokenError as exc:
            raise CommandError(str(exc)) from exc
        ends = f"expires {row.expires_at:%Y-%m-%d %H:%M %Z}" if row.expires_at else "never expires"
        self.stdout.write(f"{token}\n")
        self.stderr.write(
            f"token {row.prefix} for {person.email} ({', '.join(row.scopes)}); {ends}. "
            "It is shown only now: keep it in a secret store."
        )

    def _list(self, email: str) -> None:
        rows = ApiToken.objects.select_related("person")
        if email:
            rows = rows.filter(person__email__iexact=email.strip())
        for row in rows:
            state = "live" if row.is_live else ("revoked" if row.revoked_at else "ended")
            used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "unused"
            self.stdout.write(
                f"{row.prefix}  {state:7}  {row.person.email}  {row.name}  "
                f"[{', '.join(row.scopes)}]  {used}"
            )

    def _revoke(self, prefix: str) -> None:
        row = ApiToken.objects.filter(prefix=prefix[: services.PREFIX_LENGTH]).first()
        if row is None or len(prefix) < services.PREFIX_LENGTH:
            raise CommandError(f"no token starts with {prefix!r} (give cd_ and 8 characters)")
        if services.revoke(row, by=None):
            self.stdout.write(f"revoked {row.prefix} ({row.person.email}, {row.name})")
        else:
            self.stdout.write(f"{row.prefix} was already revoked")
