"""casedesk accounts: what an operator needs at 2 a.m. without the admin.

casedesk accounts locked                 the addresses locked now, and until when (UTC)
casedesk accounts unlock ADDRESS         end a lock now (logged, like an unlock in the desk)
casedesk accounts invite ADDRESS         mail a person a new link to set their password
casedesk accounts unblock IP             clear a network's log-in and reset limits (an office
                                         behind one address that tripped them)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from casedesk.accounts import lockout, policies, services
from casedesk.accounts.models import LockoutEvent, User, normalize_email
from casedesk.core import ratelimit


class Command(BaseCommand):
    help = "List locked accounts, unlock one, or send an invitation."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        kwargs: dict[str, Any] = {
            "called_from_command_line": getattr(parser, "called_from_command_line", None)
        }
        sub.add_parser("locked", help="List the addresses locked now.", **kwargs)
        unlock = sub.add_parser("unlock", help="End the lock on an address now.", **kwargs)
        unlock.add_argument("address")
        invite = sub.add_parser("invite", help="Mail a link to set a password.", **kwargs)
        invite.add_argument("address")
        unblock = sub.add_parser(
            "unblock", help="Clear a network's log-in and reset limits.", **kwargs
        )
        unblock.add_argument("ip", help="An IPv4 or IPv6 address (IPv6: its /64 is cleared).")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "locked":
            locks = lockout.locked_now()
            for lock in locks:
                self.stdout.write(
                    f"{lock.email}  locked {lock.locked_at:%Y-%m-%d %H:%M} "
                    f"until {lock.until:%H:%M} UTC  from {lock.ip_address or '-'}"
                )
            if not locks:
                self.stdout.write("no account is locked")
        elif action == "unlock":
            email = normalize_email(options["address"])
            if not lockout.unlock(email, reason=LockoutEvent.Reason.BY_STAFF):
                raise CommandError(f"{email} is not locked")
            self.stdout.write(f"unlocked {email}")
        elif action == "unblock":
            network = lockout.network_key_of(options["ip"])
            if network is None:
                raise CommandError(f"{options['ip']!r} is not an IP address")
            for policy in (policies.LOGIN_FAILURES_PER_IP, policies.RESET_PER_IP):
                ratelimit.reset(policy, network)
            self.stdout.write(f"cleared the log-in and reset limits of {network}")
        elif action == "invite":
            email = normalize_email(options["address"])
            person = User.objects.filter(email=email).first()
            if person is None:
                raise CommandError(f"no person has the address {email}; add them in the admin")
            if not person.is_active:
                raise CommandError(f"{email} is deactivated; reactivate them in the admin first")
            services.invite(person)
            self.stdout.write(f"invitation sent to {email}")
