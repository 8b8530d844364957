"""Page on every critical case opened (or raised to critical) while support is closed.

``cases`` sends the signal after its transaction commits; if this process dies in
between, ``tasks.sweep_pages`` pages the case within a minute.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from casedesk.cases.models import Case
from casedesk.cases.signals import critical_case_opened_after_hours
from casedesk.oncall import services

logger = logging.getLogger("casedesk.oncall")


@receiver(critical_case_opened_after_hours, dispatch_uid="oncall.page_critical_after_hours")
def page_critical_case(sender: Any, case: Case, **kwargs: Any) -> None:
    services.page(case)
