"""Demo data for `make run`: idempotent, and refused in production mode.

Besides the logins it seeds a few hundred cases in every state for both client
organizations (once: only while there are no cases at all), so the desk and the
portal have something to show.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from casedesk.accounts.models import Organization, OrganizationDomain, OrganizationPhone, Role, User
from casedesk.cases.defaults import ensure_priorities
from casedesk.cases.models import Case
from casedesk.cases.seeding import SeedPlan, seed_cases
from casedesk.help.seed import ensure_articles
from casedesk.hours.defaults import ensure_calendars

# Every demo login has this password; `make run` prints it on purpose.
DEMO_PASSWORD = "casedesk-demo"  # noqa: S105 - printed, and only where `casedesk demo` ran


@dataclass(frozen=True)
class DemoOrganization:
    name: str
    domain: str
    phone: str
    account_number: str
    after_hours_coverage: bool = True


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    full_name: str
    organization: str | None = None
    password: str = DEMO_PASSWORD
    phone: str = ""  # a customer's: the emergency line knows them by it


# The two client organizations; 555 numbers and .example domains only.
DEMO_ORGANIZATIONS = [
    DemoOrganization("Acme", "acme.example", "+15555550101", "10042001"),
    DemoOrganization("Globex", "globex.example", "+15555550102", "10042002"),
]

# The vendor, Example Software, is the staff (no organization); customers belong to clients.
DEMO_LOGINS = [
    DemoLogin(Role.ADMIN.value, "admin@example.com", "Avery Admin"),
    DemoLogin(Role.AGENT.value, "agent@example.com", "Sam Agent"),
    DemoLogin(Role.AGENT.value, "agent2@example.com", "Kim Agent"),
    # Each calls from their organization's registered number (the demo call log's calls).
    DemoLogin(
        Role.CUSTOMER.value, "alice@acme.example", "Alice Example", "Acme", phone="+15555550101"
    ),
    DemoLogin(
        Role.CUSTOMER.value, "bob@globex.example", "Bob Example", "Globex", phone="+15555550102"
    ),
]

# Cases across both client organizations, every status in each (requesters: their customers).
DEMO_CASES = 300


@transaction.atomic
def load_demo() -> list[str]:
    """Create what is missing; never overwrite what an admin changed. Returns what was created."""
    created = [f"calendar {name}" for name in ensure_calendars()]
    created += [f"help article {slug}" for slug in ensure_articles()]
    for spec in DEMO_ORGANIZATIONS:
        organization, made = Organization.objects.get_or_create(
            name=spec.name,
            defaults={
                "account_number": spec.account_number,
                "after_hours_coverage": spec.after_hours_coverage,
            },
        )
        if made:
            OrganizationDomain.objects.create(organization=organization, domain=spec.domain)
            OrganizationPhone.objects.create(organization=organization, number=spec.phone)
            created.append(f"organization {spec.name}")
    for login in DEMO_LOGINS:
        if User.objects.filter(email=login.email).exists():
            continue
        User.objects.create_user(
            login.email,
            login.password,
            role=login.role,
            full_name=login.full_name,
            phone=login.phone,
            organization=(
                Organization.objects.get(name=login.organization) if login.organization else None
            ),
        )
        created.append(f"{login.role} {login.email}")
    created += [f"priority {name}" for name in ensure_priorities()]
    if not Case.objects.exists():
        seeded = seed_cases(
            SeedPlan(
                cases=DEMO_CASES,
                organization_names=[spec.name for spec in DEMO_ORGANIZATIONS],
                progress=False,
            )
        )
        created.append(f"{seeded.cases} demo cases")
    from casedesk.status.demo import ensure_demo_status

    created += ensure_demo_status(User.objects.filter(email="agent@example.com").first())

    # The on-call schedule of the demo agents (`casedesk demo` also opens a first page).
    from casedesk.oncall.demo import ensure_demo_oncall

    created += ensure_demo_oncall()
    from casedesk.chat.demo import ensure_demo_chat

    created += ensure_demo_chat()
    from casedesk.phone.demo import ensure_demo_calls

    created += ensure_demo_calls()
    return created


def existing_demo_logins() -> list[DemoLogin]:
    """The demo logins that still exist with their demo password."""
    people = {p.email: p for p in User.objects.filter(email__in=[d.email for d in DEMO_LOGINS])}
    return [
        login
        for login in DEMO_LOGINS
        if (person := people.get(login.email)) is not None and person.check_password(login.password)
    ]
