"""Demo data for `make run`: idempotent, and refused in production mode."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from casedesk.hours.defaults import ensure_calendars


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    email: str
    password: str


# Demo accounts only exist where `casedesk demo` was run (never in production
# mode without --force); their passwords are printed on purpose.
DEMO_LOGINS = [
    DemoLogin("admin", "admin", "admin@example.com", "casedesk-demo-admin"),
]


@transaction.atomic
def load_demo() -> list[str]:
    """Create what is missing; never overwrite what an admin changed. Returns what was created."""
    created = [f"calendar {name}" for name in ensure_calendars()]
    user_model = get_user_model()
    for login in DEMO_LOGINS:
        if user_model.objects.filter(username=login.username).exists():
            continue
        if login.role == "admin":
            user_model.objects.create_superuser(login.username, login.email, login.password)
        else:
            user_model.objects.create_user(login.username, login.email, login.password)
        created.append(f"{login.role} {login.email}")
    return created


def existing_demo_logins() -> list[DemoLogin]:
    """The demo logins that still exist with their demo password."""
    user_model = get_user_model()
    found = []
    for login in DEMO_LOGINS:
        user = user_model.objects.filter(username=login.username).first()
        if user is not None and user.check_password(login.password):
            found.append(login)
    return found
