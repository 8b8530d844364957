"""The status page's background work: maintenance edges, notifications, webhooks, case replies.

- ``maintenance_edge`` runs at a window's edge (reminder 60 minutes before, none
  when less is left; start; completion), scheduled when the maintenance is
  created; ``sweep_maintenance`` (every minute) is the safety net for a lost
  task. Both go through ``services.act_on_edge``, which locks the row and acts once.
- ``announce`` fans an event out: subscriber mails in batches
  (``mail_subscribers``, retried; a ``Delivery`` row per address makes a retried
  batch skip those already sent) and one ``WebhookDelivery`` per active webhook
  (``deliver_webhook``, retried with backoff).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_tasks import task

from casedesk.core.mail import send_templated
from casedesk.core.periodic import periodic
from casedesk.core.retry import PermanentError, RetryableError, RetryPolicy, retrying
from casedesk.status import outbound, services, subscriptions
from casedesk.status.api import incident_json, page_json
from casedesk.status.models import (
    Delivery,
    Incident,
    IncidentUpdate,
    MaintenanceStatus,
    Subscriber,
    Webhook,
    WebhookDelivery,
)

logger = logging.getLogger("casedesk.status")

_MAIL_RETRY = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30))
# Webhooks: 6 attempts, +10 s, +40 s, ~3 min, ~11 min, ~43 min: a receiver's
# deploy or short outage is ridden out within the hour.
_WEBHOOK_RETRY = RetryPolicy(max_attempts=6, first_delay=timedelta(seconds=10))

SUBJECTS = {
    "incident_created": "Incident: {name}",
    "incident_updated": "Update: {name}",
    "incident_resolved": "Resolved: {name}",
    "maintenance_scheduled": "Scheduled maintenance: {name}",
    "maintenance_reminder": "Maintenance in {minutes}: {name}",
    "maintenance_started": "Maintenance in progress: {name}",
    "maintenance_updated": "Maintenance update: {name}",
    "maintenance_rescheduled": "Maintenance moved: {name}",
    "maintenance_completed": "Maintenance completed: {name}",
}


# ---- Maintenance ------------------------------------------------------------------------


@task()
def maintenance_edge(maintenance_id: int, edge: str, at: str) -> str:
    return services.act_on_edge(maintenance_id, edge, datetime.fromisoformat(at))


@periodic(every=timedelta(minutes=1))
@task()
def sweep_maintenance() -> int:
    """Act on any window edge whose own task was lost (reads only open maintenance)."""
    acted = 0
    for maintenance_id, edge, at in services.due_edges(timezone.now()):
        if not services.act_on_edge(maintenance_id, edge, at).startswith(("stale", "early")):
            acted += 1
    if acted:
        logger.warning("maintenance sweep acted on %d edge(s) their tasks had missed", acted)
    return acted


# ---- Fan-out -----------------------------------------------------------------------------


@task()
def announce(event: str, incident_id: int, update_id: int | None) -> int:
    """Queue the mails (in batches) and webhook deliveries for one event; returns batches."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return 0
    ids = list(subscribers_for(incident).values_list("pk", flat=True))
    size = settings.STATUS_MAIL_BATCH
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    for batch in batches:
        mail_subscribers.enqueue(event, incident_id, update_id, batch)
    payload = webhook_payload(event, incident, update_id)
    for webhook in Webhook.objects.filter(active=True):
        delivery = WebhookDelivery.objects.create(webhook=webhook, event=event, payload=payload)
        deliver_webhook.enqueue(delivery.pk)
    return len(batches)


def subscribers_for(incident: Incident) -> QuerySet[Subscriber]:
    """Confirmed subscribers to everything, or to at least one affected component."""
    affected = list(incident.components.values_list("pk", flat=True))
    return (
        Subscriber.objects.filter(confirmed_at__isnull=False)
        .filter(
            Q(scope=Subscriber.Scope.ALL)
            | Q(scope=Subscriber.Scope.CHOSEN, components__in=affected)
        )
        .distinct()
        .order_by("pk")
    )


@task()
@retrying(_MAIL_RETRY)
def mail_subscribers(
    event: str, incident_id: int, update_id: int | None, subscriber_ids: list[int]
) -> int:
    """Mail one batch; those already mailed for this event (a retry) are skipped."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        return 0
    if event == "maintenance_reminder" and (
        incident.status != MaintenanceStatus.SCHEDULED
        or incident.scheduled_for is None
        or incident.scheduled_for <= timezone.now()
    ):
        return 0  # a reminder retried until after the window opened would mislead
    update = IncidentUpdate.objects.filter(pk=update_id).first() if update_id else None
    key = f"{event}:{incident_id}:{update_id or 0}"
    sent = 0
    for subscriber in Subscriber.objects.filter(pk__in=subscriber_ids, confirmed_at__isnull=False):
        try:
            with transaction.atomic():
                Delivery.objects.create(subscriber=subscriber, key=key)
                _mail(event, incident, update, subscriber)
        except IntegrityError:
            continue  # mailed by an earlier attempt
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"could not mail {event} to a subscriber: {exc}") from exc
        sent += 1
    return sent


def minutes_left(incident: Incident) -> int:
    """Whole minutes (at least 1) until a maintenance window opens: what a reminder says."""
    if incident.scheduled_for is None:
        return 0
    seconds = (incident.scheduled_for - timezone.now()).total_seconds()
    return max(1, round(seconds / 60))


def _mail(
    event: str, incident: Incident, update: IncidentUpdate | None, subscriber: Subscriber
) -> None:
    unsubscribe = subscriptions.unsubscribe_url(subscriber)
    minutes = minutes_left(incident)
    context = {
        "subject": SUBJECTS[event].format(
            name=incident.name, minutes=f"{minutes} minute{'' if minutes == 1 else 's'}"
        ),
        "minutes_left": minutes,
        "event": event,
        "incident": incident,
        "update": update,
        "url": f"{settings.BASE_URL}{incident.get_absolute_url()}",
        "unsubscribe_url": unsubscribe,
        "site_name": settings.OTP_TOTP_ISSUER,
        "base_url": settings.BASE_URL,
    }
    send_templated(
        "status/email/notification",
        context,
        [subscriber.email],
        headers={
            # RFC 8058 one-click unsubscribe: the mail client POSTs to the link.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


@task()
@retrying(_MAIL_RETRY)
def send_confirmation(email: str, component_ids: list[str]) -> None:
    """The double opt-in mail: a link that subscribes ``email`` when followed."""
    context = {
        "confirm_url": subscriptions.confirm_url(email, component_ids),
        "site_name": settings.OTP_TOTP_ISSUER,
        "base_url": settings.BASE_URL,
        "lifetime_days": subscriptions.CONFIRM_LIFETIME.days,
    }
    try:
        send_templated("status/email/confirm", context, [email])
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(f"could not send a subscription confirmation: {exc}") from exc


# ---- Webhooks ----------------------------------------------------------------------------


def webhook_payload(event: str, incident: Incident, update_id: int | None) -> str:
    body = {
        "meta": {"event": event, "generated_at": timezone.now().isoformat()},
        "page": page_json(),
        "incident": incident_json(incident),
    }
    return json.dumps(body, separators=(",", ":"))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` (the timestamp is signed
    too, so a receiver can refuse an old delivery replayed)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@task()
@retrying(_WEBHOOK_RETRY)
def deliver_webhook(delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.state == WebhookDelivery.State.DELIVERED:
        return "nothing to do"
    body = delivery.payload.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "casedesk-status-webhook",
        "X-Casedesk-Event": delivery.event,
        "X-Casedesk-Delivery": str(delivery.pk),
        "X-Casedesk-Timestamp": timestamp,
        "X-Casedesk-Signature": signature(delivery.webhook.secret, timestamp, body),
    }
    delivery.attempts += 1
    try:
        status = outbound.post(
            delivery.webhook.url,
            body,
            headers,
            timeout=settings.STATUS_WEBHOOK_TIMEOUT,
            allow_private=settings.STATUS_WEBHOOK_ALLOW_PRIVATE,
        )
    except outbound.Refused as exc:
        delivery.error = f"refused: {exc}"[:1000]
        delivery.state = WebhookDelivery.State.FAILED
        delivery.save()
        raise PermanentError(f"webhook URL refused: {exc}") from exc
    except OSError as exc:
        delivery.error = str(exc)[:1000]
        if delivery.attempts >= _WEBHOOK_RETRY.max_attempts:
            delivery.state = WebhookDelivery.State.FAILED
        delivery.save()
        raise RetryableError(f"webhook unreachable: {exc}") from exc
    delivery.response_status = status
    if not 200 <= status < 300:
        # A redirect is not followed (it could point inside our network): a refusal.
        delivery.error = f"HTTP {status}" + (
            " (redirects are not followed)" if 300 <= status < 400 else ""
        )
        retry = (status >= 500 or status in (408, 429)) and (
            delivery.attempts < _WEBHOOK_RETRY.max_attempts
        )
        delivery.state = WebhookDelivery.State.PENDING if retry else WebhookDelivery.State.FAILED
        delivery.save()
        if retry:
            raise RetryableError(f"webhook answered {status}")
        raise PermanentError(f"webhook refused the delivery: HTTP {status}")
    delivery.state = WebhookDelivery.State.DELIVERED
    delivery.delivered_at = timezone.now()
    delivery.error = ""
    delivery.save()
    return "delivered"


# ---- Cases -------------------------------------------------------------------------------


@task()
def tell_linked_cases(incident_id: int, by_id: int) -> int:
    return services.tell_linked_cases(incident_id, by_id)
