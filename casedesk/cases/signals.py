"""Domain events other apps subscribe to. Each is sent after its transaction commits.

``critical_case_opened_after_hours(sender=Case, case=Case)``: a critical case
was opened (or raised to critical) while support is closed. The on-call app
pages on it (``oncall.receivers``); the case's timeline records it and the desk
shows it (queue filter "after-hours critical").
"""

from django.dispatch import Signal

critical_case_opened_after_hours = Signal()
