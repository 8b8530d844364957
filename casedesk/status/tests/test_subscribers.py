"""Email subscribers: double opt-in, choice of components, one-click unsubscribe."""

from __future__ import annotations

import re
import smtplib

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from casedesk.status import services, subscriptions, tasks
from casedesk.status.models import Delivery, Subscriber


def link_in(message, pattern=r"https?://\S+/status/subscribe/confirm/\S+/"):
    found = re.search(pattern, message.body)
    assert found, message.body
    return found.group(0).replace("http://127.0.0.1:8000", "")


def subscribe(client, email, components=()):
    return client.post("/status/subscribe/", {"email": email, "components": list(components)})


def test_subscribing_sends_a_link_and_only_following_it_subscribes(
    components, run_tasks, mailoutbox
):
    client = Client()
    response = subscribe(client, "Ops@Acme.example", [components["api"].public_id])
    assert response.status_code == 200
    assert b"confirmation link is on its way" in response.content
    assert not Subscriber.objects.exists()
    run_tasks()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ops@acme.example"]
    path = link_in(mailoutbox[0])
    # Opening the link (as a mail scanner would) changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and b"Confirm" in page.content
    assert not Subscriber.objects.exists()
    assert client.post(path).status_code == 200
    person = Subscriber.objects.get()
    assert person.email == "ops@acme.example" and person.confirmed_at is not None
    assert list(person.components.all()) == [components["api"]]


def test_the_confirmation_form_needs_its_csrf_token(components):
    url = subscriptions.confirm_url("a@acme.example", [])
    path = url.replace("http://127.0.0.1:8000", "")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(path).status_code == 403
    assert strict.post("/status/subscribe/", {"email": "a@acme.example"}).status_code == 403
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "",
        "x" * 5000,
        signing.dumps({"e": "a@acme.example", "c": []}, salt="wrong-salt"),
        signing.dumps({"e": 42, "c": []}, salt="casedesk.status.confirm"),
        signing.dumps(["a@acme.example"], salt="casedesk.status.confirm"),
        signing.dumps({"e": "a@acme.example", "c": [1, 2]}, salt="casedesk.status.confirm"),
    ],
    # Named, not shown: a signed token holds the second it was made, and pytest-xdist's
    # workers must collect the same test names.
    ids=["garbage", "empty", "huge", "wrong-salt", "email-not-text", "a-list", "numeric-ids"],
)
def test_a_forged_or_malformed_confirmation_link_subscribes_nobody(components, token):
    client = Client()
    path = f"/status/subscribe/confirm/{token}/"
    response = client.post(path) if token else client.post("/status/subscribe/confirm//")
    assert response.status_code in (400, 404)
    assert not Subscriber.objects.exists()


def test_an_expired_confirmation_link_says_so(components):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    url = subscriptions.confirm_url("late@acme.example", [])
    with time_machine.travel(
        timezone.now() + subscriptions.CONFIRM_LIFETIME + timedelta(minutes=1)
    ):
        response = Client().post(url.replace("http://127.0.0.1:8000", ""))
    assert response.status_code == 400
    assert b"expired" in response.content
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not an address"},
        {"email": ""},
        {"email": "a@acme.example", "components": ["nonexistent1"]},
        {"email": "a@acme.example\r\nBcc: victim@example.com"},
        {"email": "a" * 300 + "@acme.example"},
    ],
)
def test_bad_subscription_input_is_refused_on_the_form(components, run_tasks, mailoutbox, data):
    response = Client().post("/status/subscribe/", data)
    assert response.status_code == 200
    assert b"form-error" in response.content
    run_tasks()
    assert mailoutbox == []


def test_the_form_answers_the_same_for_a_subscribed_address_and_limits_the_mails(
    components, run_tasks, mailoutbox
):
    Subscriber.objects.create(email="known@acme.example")
    client = Client()
    answers = {
        subscribe(client, "known@acme.example").content.replace(b"known", b"X") for _ in range(5)
    }
    answers.add(subscribe(client, "other@acme.example").content.replace(b"other", b"X"))
    assert len(answers) == 1
    run_tasks()
    # Three per address per hour (CASEDESK_RATE_STATUS_SUBSCRIBE_PER_ADDRESS).
    assert sorted(m.to[0] for m in mailoutbox) == ["known@acme.example"] * 3 + [
        "other@acme.example"
    ]


def confirmed(email, *chosen):
    scope = Subscriber.Scope.CHOSEN if chosen else Subscriber.Scope.ALL
    person = Subscriber.objects.create(
        email=email, confirmed_at="2026-01-01T00:00:00Z", scope=scope
    )
    person.components.set(chosen)
    return person


def test_notifications_go_only_to_subscribers_of_an_affected_component(
    components, incident, run_tasks, mailoutbox
):
    confirmed("all@acme.example")
    confirmed("api@acme.example", components["api"])
    confirmed("web-and-api@acme.example", components["web"], components["api"])
    confirmed("portal@acme.example", components["portal"])
    Subscriber.objects.create(email="unconfirmed@acme.example")
    incident("API errors", api="partial_outage")
    run_tasks()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "all@acme.example",
        "api@acme.example",
        "web-and-api@acme.example",
    ]
    assert mailoutbox[0].subject == "[casedesk status] Incident: API errors"


def test_an_update_posted_without_notifying_sends_nothing(
    components, incident, agent, run_tasks, mailoutbox
):
    confirmed("all@acme.example")
    made = incident("API errors", api="partial_outage")
    run_tasks()
    mailoutbox.clear()
    services.post_update(made, services.Posting("identified", "Typo fixed.", notify=False), agent)
    run_tasks()
    assert mailoutbox == []
    services.post_update(made, services.Posting("resolved", "All good."), agent)
    run_tasks()
    assert [m.subject for m in mailoutbox] == ["[casedesk status] Resolved: API errors"]


def test_each_mail_has_one_click_unsubscribe_headers(components, incident, run_tasks, mailoutbox):
    # The link is signed with the second it was made in: freeze the clock, or a mail sent
    # in one second and a link made in the next differ (a busy machine made this fail).
    with time_machine.travel(timezone.now(), tick=False):
        person = confirmed("all@acme.example")
        incident("API errors", api="partial_outage")
        run_tasks()
        made_now = subscriptions.unsubscribe_url(person)
    message = mailoutbox[0]
    link = message.extra_headers["List-Unsubscribe"]
    assert link == f"<{made_now}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert made_now in message.body
    # The mail client's one-click POST: no form token, no cookie.
    path = link.strip("<>").replace("http://127.0.0.1:8000", "")
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not Subscriber.objects.exists()
    # Following it again is harmless.
    assert Client().post(path).status_code == 200


def test_the_unsubscribe_page_asks_before_it_acts(components):
    person = confirmed("all@acme.example")
    path = subscriptions.unsubscribe_url(person).replace("http://127.0.0.1:8000", "")
    assert b"Unsubscribe" in Client().get(path).content
    assert Subscriber.objects.filter(pk=person.pk).exists()


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        signing.dumps({"s": 1, "e": "all@acme.example"}, salt="casedesk.status.confirm"),
        signing.dumps({"s": "1", "e": "all@acme.example"}, salt="casedesk.status.unsubscribe"),
        signing.dumps([1], salt="casedesk.status.unsubscribe"),
    ],
    ids=["garbage", "confirm-salt", "id-as-text", "a-list"],  # stable names, as above
)
def test_a_forged_unsubscribe_link_removes_nobody(components, token):
    confirmed("all@acme.example")
    response = Client().post(f"/status/unsubscribe/{token}/")
    assert response.status_code == 400
    assert Subscriber.objects.count() == 1


def test_an_unsubscribe_link_does_not_remove_a_new_subscriber_with_the_old_id(components):
    old = confirmed("old@acme.example")
    path = subscriptions.unsubscribe_url(old).replace("http://127.0.0.1:8000", "")
    Subscriber.objects.filter(pk=old.pk).update(email="new@acme.example")
    Client().post(path)
    assert Subscriber.objects.filter(email="new@acme.example").exists()


def test_mails_go_out_in_batches_and_a_retried_batch_skips_those_already_sent(
    components, incident, run_tasks, mailoutbox, settings, monkeypatch
):
    settings.STATUS_MAIL_BATCH = 2
    for n in range(5):
        confirmed(f"person{n}@acme.example")
    made = incident("API errors", notify=False, api="partial_outage")
    assert tasks.announce.call("incident_created", made.pk, made.updates.get().pk) == 3
    # A batch whose mail server fails half-way: one mail out, then an error.
    sent: list[str] = []
    real_send = mail.EmailMultiAlternatives.send

    def flaky(self, *args, **kwargs):
        if len(sent) == 1:
            raise smtplib.SMTPServerDisconnected("gone")
        sent.append(self.to[0])
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", flaky)
    ids = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))[:2]
    update_id = made.updates.get().pk
    with pytest.raises(Exception):  # noqa: B017 - the RetryableError that schedules a retry
        tasks.mail_subscribers.call("incident_created", made.pk, update_id, ids)
    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", real_send)
    assert tasks.mail_subscribers.call("incident_created", made.pk, update_id, ids) == 1
    assert sorted(m.to[0] for m in mailoutbox) == ["person0@acme.example", "person1@acme.example"]
    assert Delivery.objects.count() == 2


def test_a_choice_whose_components_are_all_gone_does_not_become_everything(components):
    url = subscriptions.confirm_url("few@acme.example", [components["api"].public_id])
    components["api"].delete()
    response = Client().post(url.replace("http://127.0.0.1:8000", ""))
    assert response.status_code == 400
    assert not Subscriber.objects.exists()


def subscribe_from(client, email, **meta):
    return client.post("/status/subscribe/", {"email": email}, **meta)


def test_the_per_network_limit_counts_the_client_behind_the_proxy_not_the_proxy(
    components, run_tasks, mailoutbox, settings
):
    from datetime import timedelta

    from casedesk.lib.env import Rate

    settings.BEHIND_PROXY = True
    settings.RATE_STATUS_SUBSCRIBE_PER_IP = Rate(2, timedelta(hours=1))
    client = Client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(3):
        # The first entry is the client's to invent; the last is what our proxy saw.
        forwarded = f"198.51.100.{n}, 203.0.113.7"
        subscribe_from(client, f"a{n}@acme.example", HTTP_X_FORWARDED_FOR=forwarded, **proxy)
    subscribe_from(client, "b@acme.example", HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    run_tasks()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "a0@acme.example",
        "a1@acme.example",
        "b@acme.example",
    ]


def test_two_ipv6_addresses_in_one_64_share_the_per_network_limit(
    components, run_tasks, mailoutbox, settings
):
    from datetime import timedelta

    from casedesk.lib.env import Rate

    settings.BEHIND_PROXY = False
    settings.RATE_STATUS_SUBSCRIBE_PER_IP = Rate(1, timedelta(hours=1))
    client = Client()
    subscribe_from(client, "one@acme.example", REMOTE_ADDR="2001:db8:1:2::1")
    subscribe_from(client, "two@acme.example", REMOTE_ADDR="2001:db8:1:2:ffff::9")
    subscribe_from(client, "other@acme.example", REMOTE_ADDR="2001:db8:1:3::1")
    run_tasks()
    assert sorted(m.to[0] for m in mailoutbox) == ["one@acme.example", "other@acme.example"]


def test_an_unreadable_client_address_skips_only_the_per_network_limit(
    components, run_tasks, mailoutbox, settings
):
    from datetime import timedelta

    from casedesk.lib.env import Rate

    settings.RATE_STATUS_SUBSCRIBE_PER_IP = Rate(1, timedelta(hours=1))
    client = Client()
    for n in range(3):
        subscribe_from(client, f"p{n}@acme.example", REMOTE_ADDR="not-an-address")
    for _ in range(4):
        subscribe_from(client, "same@acme.example", REMOTE_ADDR="")
    run_tasks()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "p0@acme.example",
        "p1@acme.example",
        "p2@acme.example",
        "same@acme.example",
        "same@acme.example",
        "same@acme.example",
    ]


def test_a_subscriber_to_components_all_deleted_since_hears_nothing_not_everything(
    components, incident, run_tasks, mailoutbox
):
    confirmed("all@acme.example")
    few = confirmed("email-only@acme.example", components["email"])
    components["email"].delete()
    made = incident("Logins fail", web="major_outage")
    assert few not in tasks.subscribers_for(made)
    run_tasks()
    assert [m.to[0] for m in mailoutbox] == ["all@acme.example"]


def test_following_a_confirmation_link_records_the_scope_chosen(components):
    chosen_url = subscriptions.confirm_url("few@acme.example", [components["api"].public_id])
    all_url = subscriptions.confirm_url("all@acme.example", [])
    for url in (chosen_url, all_url):
        assert Client().post(url.replace("http://127.0.0.1:8000", "")).status_code == 200
    scopes = dict(Subscriber.objects.values_list("email", "scope"))
    assert scopes == {"few@acme.example": "chosen", "all@acme.example": "all"}
    # Choosing everything later widens on purpose.
    Client().post(
        subscriptions.confirm_url("few@acme.example", []).replace("http://127.0.0.1:8000", "")
    )
    assert Subscriber.objects.get(email="few@acme.example").scope == "all"
