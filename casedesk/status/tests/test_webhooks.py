"""Outgoing webhooks: signed with HMAC-SHA256, delivered to a real local server, retried."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_tasks_db.models import DBTaskResult

from casedesk.status import services, tasks
from casedesk.status.models import Webhook, WebhookDelivery


class Receiver:
    """An HTTP server on 127.0.0.1 that answers each request with the next status in
    ``answers`` (a 3xx points at ``location``)."""

    def __init__(self, answers, location=""):
        self.answers = list(answers)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.methods: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                outer.methods.append(self.command)
                outer.received.append((dict(self.headers), self.rfile.read(length)))
                status = outer.answers.pop(0) if outer.answers else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    """Start local receivers; webhooks to private addresses are allowed (127.0.0.1)."""
    settings.STATUS_WEBHOOK_ALLOW_PRIVATE = True
    made = []

    def start(*answers, location=""):
        server = Receiver(answers, location)
        made.append(server)
        return server

    yield start
    for server in made:
        server.close()


def test_an_incident_is_posted_signed_to_each_active_webhook(
    components, incident, receiver, run_tasks
):
    server = receiver()
    hook = Webhook.objects.create(url=server.url, secret="s3cret-for-tests")
    Webhook.objects.create(url="http://127.0.0.1:9/off", active=False)
    made = incident("API errors", api="partial_outage")
    run_tasks()
    assert len(server.received) == 1
    headers, body = server.received[0]
    expected = hmac.new(
        b"s3cret-for-tests", headers["X-Casedesk-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Casedesk-Signature"] == f"sha256={expected}"
    assert headers["X-Casedesk-Event"] == "incident_created"
    payload = json.loads(body)
    assert payload["meta"]["event"] == "incident_created"
    assert payload["incident"]["id"] == made.public_id
    assert payload["incident"]["components"][0]["status"] == "partial_outage"
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.state == "delivered" and delivery.attempts == 1


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    components, incident, receiver, run_tasks
):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    server = receiver(503, 500)
    Webhook.objects.create(url=server.url)
    # A stopped clock: the retry is due 10 s after the attempt, however slowly the machine
    # gets from the attempt to this test's look at it.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        incident("API errors", api="partial_outage")
        run_tasks()
        delivery = WebhookDelivery.objects.get()
        assert (
            delivery.state == "pending"
            and delivery.attempts == 1
            and delivery.response_status == 503
        )
        retry = DBTaskResult.objects.filter(
            task_path="casedesk.status.tasks.deliver_webhook", status="READY"
        ).get()
        assert retry.run_after - timezone.now() == timedelta(seconds=10)
        clock.shift(timedelta(seconds=11))
        run_tasks()  # second attempt: 500, next in 40 s
        clock.shift(timedelta(seconds=49))
        run_tasks()
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 3
    assert len(server.received) == 3


def test_a_receiver_that_refuses_is_not_retried(components, incident, receiver, run_tasks):
    server = receiver(410)
    Webhook.objects.create(url=server.url)
    incident("API errors", api="partial_outage")
    run_tasks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and delivery.response_status == 410
    assert not DBTaskResult.objects.filter(
        task_path="casedesk.status.tasks.deliver_webhook", status="READY"
    ).exists()


def test_an_unreachable_receiver_is_retried(components, incident, run_tasks, receiver):
    server = receiver()
    url = server.url
    server.close()  # nothing listens there any more
    Webhook.objects.create(url=url)
    incident("API errors", api="partial_outage")
    run_tasks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.error
    assert DBTaskResult.objects.filter(
        task_path="casedesk.status.tasks.deliver_webhook", status="READY"
    ).exists()


def test_maintenance_events_reach_webhooks_too(components, agent, receiver, run_tasks):
    server = receiver()
    Webhook.objects.create(url=server.url)
    services.create_maintenance(
        services.NewMaintenance("Patch", "Now.", [components["web"]]), agent
    )
    run_tasks()
    assert json.loads(server.received[0][1])["meta"]["event"] == "maintenance_started"


def test_the_signature_covers_the_timestamp():
    body = b'{"a":1}'
    assert tasks.signature("k", "100", body) != tasks.signature("k", "101", body)
    assert tasks.signature("k", "100", body) != tasks.signature("k", "100", b'{"a":2}')


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)", "not a url"]
)
def test_a_webhook_takes_only_http_and_https_urls(db, url):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Webhook(url=url).full_clean()


def test_a_redirect_is_not_followed_and_counts_as_a_permanent_failure(
    components, incident, receiver, run_tasks
):
    inside = receiver()
    outside = receiver(302, location=inside.url + "/latest/meta-data/")
    Webhook.objects.create(url=outside.url)
    incident("API errors", api="partial_outage")
    run_tasks()
    assert len(outside.received) == 1
    assert inside.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and delivery.response_status == 302
    assert "redirect" in delivery.error
    assert not DBTaskResult.objects.filter(
        task_path="casedesk.status.tasks.deliver_webhook", status="READY"
    ).exists()


def test_a_loopback_receiver_is_refused_unless_private_addresses_are_allowed(
    components, incident, receiver, run_tasks, settings
):
    server = receiver()
    settings.STATUS_WEBHOOK_ALLOW_PRIVATE = False
    port = server.server.server_address[1]
    Webhook.objects.create(url=server.url)
    Webhook.objects.create(url=f"http://localhost:{port}/by-name")  # resolves to loopback
    incident("API errors", api="partial_outage")
    run_tasks()
    assert server.received == []
    deliveries = list(WebhookDelivery.objects.all())
    assert len(deliveries) == 2
    for delivery in deliveries:
        assert delivery.state == "failed" and delivery.error.startswith("refused")
        assert delivery.response_status is None
    assert not DBTaskResult.objects.filter(
        task_path="casedesk.status.tasks.deliver_webhook", status="READY"
    ).exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as one number
        "https://0.0.0.0/hook",
    ],
)
def test_internal_addresses_are_refused_by_default(components, incident, run_tasks, url):
    Webhook.objects.create(url=url)
    incident("API errors", api="partial_outage")
    run_tasks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and delivery.error.startswith("refused")
    assert delivery.attempts == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/x",
        "http://[::1]/x",
        "http://localhost/x",
        "http://api.localhost/x",
    ],
)
def test_a_webhook_url_naming_an_internal_address_is_invalid_by_default(db, settings, url):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Webhook(url=url).full_clean()
    settings.STATUS_WEBHOOK_ALLOW_PRIVATE = True
    Webhook(url=url).full_clean()


def test_a_public_webhook_url_is_valid(db):
    Webhook(url="https://hooks.example.com/status").full_clean()
    Webhook(url="https://93.184.215.14/status").full_clean()


def test_a_url_with_spaces_or_control_characters_is_refused_without_connecting(
    components, incident, run_tasks
):
    Webhook.objects.create(url="http://93.184.215.14/a b\r\nX-Injected: 1")
    incident("API errors", api="partial_outage")
    run_tasks()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed" and delivery.error.startswith("refused")
