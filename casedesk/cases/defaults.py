"""The priorities casedesk ships with (PRODUCT.md, policies 5 and 6). All editable in the admin.

Response targets are the policy's. Resolution targets are casedesk's own
defaults (the policy names none): Critical a day around the clock, then 2, 5
and 10 business days of 12 hours each.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

CRITICAL_DEFINITION = (
    "Production use of the product is stopped or so severely impacted that no user can "
    "reasonably continue to use or access it. It shows one or more of: (a) data corruption; "
    "(b) the product hangs, causing unacceptable delays; (c) the product is inaccessible "
    "to all users."
)

PRIORITIES: list[dict[str, Any]] = [
    {
        "name": "Critical",
        "position": 10,
        "definition": CRITICAL_DEFINITION,
        "first_response_target": timedelta(hours=2),
        "resolution_target": timedelta(hours=24),
        "clock": "24x7",
        "served_after_hours": True,
        "is_critical": True,
    },
    {
        "name": "High",
        "position": 20,
        "definition": (
            "Production use is seriously impaired: an important function fails or is badly "
            "degraded for many users and there is no practical workaround, but work goes on."
        ),
        "first_response_target": timedelta(hours=4),
        "resolution_target": timedelta(hours=24),
    },
    {
        "name": "Medium",
        "position": 30,
        "definition": (
            "A function does not work as documented and there is a workaround, or only a "
            "test or staging system is affected."
        ),
        "first_response_target": timedelta(hours=12),
        "resolution_target": timedelta(hours=60),
        "is_default": True,
    },
    {
        "name": "Low",
        "position": 40,
        "definition": ("A question, a how-to, a cosmetic problem or a request for an improvement."),
        "first_response_target": timedelta(hours=24),
        "resolution_target": timedelta(hours=120),
    },
]


def seed_priorities(model: Any) -> list[str]:
    """Create the shipped priorities that are missing (by name); never change existing ones."""
    made = []
    for spec in PRIORITIES:
        fields = {k: v for k, v in spec.items() if k != "name"}
        if spec.get("is_default") and model.objects.filter(is_default=True).exists():
            fields["is_default"] = False
        _, created = model.objects.get_or_create(name=spec["name"], defaults=fields)
        if created:
            made.append(spec["name"])
    return made


def ensure_priorities() -> list[str]:
    from casedesk.cases.models import Priority

    return seed_priorities(Priority)
