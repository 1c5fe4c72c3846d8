"""The weekly digest: its figures against the week before (selectors patched to
hand-computed figures), when it is due in the organization's timezone, once per week
through retries and doubled runs, its recipients, and unsubscribing."""

import re
import smtplib
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail
from django.test import Client

from reports import campaign_reports, inbox
from reports.digest import unsubscribe_token
from reports.digest_models import (
    DeliveryStatus,
    DigestDelivery,
    DigestRecipient,
    DigestSchedule,
    DigestSend,
)
from reports.digest_send import digests_send_due
from reports.digest_views import recipient_from_token
from tenants.models import Organization, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
# Monday 30 November 2026, 07:30 UTC: 08:30 in Berlin (UTC+1).
MONDAY_BERLIN_0830 = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
WEEK = {  # the week of Nov 23 (reported) and the week before (Nov 16)
    date(2026, 11, 23): {"messages_in": 30, "messages_out": 45, "conversations_opened": 10,
                         "first_response_median_s": 600, "answered_within_sla_pct": 90.0,
                         "refused_window_expired": 2, "refused_opted_out": 1},
    date(2026, 11, 16): {"messages_in": 24, "messages_out": 45, "conversations_opened": 12,
                         "first_response_median_s": 900, "answered_within_sla_pct": 92.5},
}  # fmt: skip
FUNNELS = {
    date(2026, 11, 23): [{"enrolled": 40, "sent": 30, "delivered": 28, "replied": 6,
                          "opted_out": 1}, {"enrolled": 10, "sent": 10, "delivered": 10,
                                            "replied": 0, "opted_out": 0}],
    date(2026, 11, 16): [{"enrolled": 0, "sent": 20, "delivered": 20, "replied": 0,
                          "opted_out": 1}],
}  # fmt: skip


@pytest.fixture(autouse=True)
def figures(monkeypatch):
    spans = []

    def summary(*, organization, span, channel_id=None, agent_id=None):
        spans.append(span)
        return {**dict.fromkeys(inbox.FIGURES, 0), **WEEK.get(span.start, {})}

    def funnel(*, organization, span, campaign_id=None):
        return FUNNELS.get(span.start, [])

    monkeypatch.setattr(inbox, "inbox_summary", summary)
    monkeypatch.setattr(campaign_reports, "campaign_funnel", funnel)
    return spans


def organization_since_october(**fields) -> Organization:
    with time_machine.travel(datetime(2026, 10, 1, tzinfo=UTC), tick=False):
        return OrganizationFactory(**fields)


def admin_of(organization, email: str):
    user = UserFactory(email=email, is_staff=True)
    MembershipFactory(organization=organization, user=user, role=Role.ADMIN)
    return user


def run_at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return digests_send_due()


def text_of(message) -> str:
    return message.body


def test_the_digest_compares_last_week_with_the_week_before(figures, settings):
    # given an organization in Berlin with an admin
    settings.PUBLIC_BASE_URL = "https://switchboard.example"
    acme = organization_since_october(name="Acme", timezone="Europe/Berlin")
    admin_of(acme, "ana@acme.example")
    MembershipFactory(organization=acme, role=Role.AGENT)  # agents get none by default

    # when the hourly run comes after 08:00 on Monday, Berlin time
    run_at(MONDAY_BERLIN_0830)

    # then one email to the admin, about Nov 23-29 against Nov 16-22
    assert [m.to for m in mail.outbox] == [["ana@acme.example"]]
    assert [(s.start, s.end) for s in figures] == [
        (date(2026, 11, 23), date(2026, 11, 29)),
        (date(2026, 11, 16), date(2026, 11, 22)),
    ]
    message = mail.outbox[0]
    assert message.subject == "[Switchboard] Acme: your week of Nov 23"
    body = text_of(message)
    assert "Messages received: 30 (week before: 24) \u25b2 25%" in body
    assert "Messages sent: 45 (week before: 45) = same" in body
    assert "Conversations opened: 10 (week before: 12) \u25bc 17%" in body
    assert "First response (median): 10 min (week before: 15 min) \u25bc 33%" in body
    assert "Answered within SLA: 90.0% (week before: 92.5%) \u25bc 2.5 pts" in body
    assert "Sends refused: 3 (week before: 0) \u25b2 new" in body
    # campaigns summed over the week's campaigns
    assert "Leads enrolled: 50 (week before: 0) \u25b2 new" in body
    assert "Steps sent: 40 (week before: 20) \u25b2 100%" in body
    assert "Replies: 6 (week before: 0) \u25b2 new" in body
    assert "Opted out: 1 (week before: 1) = same" in body
    link = f"https://switchboard.example/admin/reports/?organization={acme.pk}"
    assert f"{link}&from=2026-11-23&to=2026-11-29" in body
    # HTML alternative, no image, the good news green and the bad red
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert "<img" not in html
    assert "&amp;from=2026-11-23" in html
    assert re.search(r"color:#15803d\">\u25b2 new</td>", html.replace("\n", ""))  # replies up
    assert re.search(r"color:#b91c1c\">\u25b2 new</td>", html.replace("\n", ""))  # refusals up
    # one-click unsubscribe headers
    url = message.extra_headers["List-Unsubscribe"][1:-1]
    prefix = "https://switchboard.example/reports/digest/unsubscribe/"
    assert url.startswith(prefix)
    assert recipient_from_token(url[len(prefix) : -1]).email == "ana@acme.example"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in body
    assert url in html


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # Auckland is UTC+13 in November: Monday 08:00 there is Sunday 19:00 UTC
        ("Pacific/Auckland", datetime(2026, 11, 29, 18, 59), datetime(2026, 11, 29, 19, 0)),
        ("Europe/Berlin", datetime(2026, 11, 30, 6, 59), datetime(2026, 11, 30, 7, 0)),
        ("America/Los_Angeles", datetime(2026, 11, 30, 15, 59), datetime(2026, 11, 30, 16, 0)),
    ],
)
def test_it_goes_after_monday_0800_in_the_organizations_timezone(zone, before, after, figures):
    organization = organization_since_october(timezone=zone)
    admin_of(organization, "ana@acme.example")

    run_at(before.replace(tzinfo=UTC))
    assert mail.outbox == []

    run_at(after.replace(tzinfo=UTC))
    assert len(mail.outbox) == 1
    # the week reported is Monday to Sunday of that zone's calendar
    assert (figures[0].start, figures[0].end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert str(figures[0].tz) == zone


def test_the_schedule_is_editable():
    organization = organization_since_october(timezone="UTC")
    admin_of(organization, "ana@acme.example")
    DigestSchedule.objects.create(organization=organization, weekday=4, hour=17)

    run_at(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # Monday
    run_at(datetime(2026, 12, 4, 16, 59, tzinfo=UTC))  # Friday, before 17:00
    assert mail.outbox == []
    run_at(datetime(2026, 12, 4, 17, 5, tzinfo=UTC))
    assert len(mail.outbox) == 1
    assert DigestSend.objects.get().week_start == date(2026, 11, 23)

    DigestSchedule.objects.filter(organization=organization).update(enabled=False)
    run_at(datetime(2026, 12, 11, 17, 5, tzinfo=UTC))
    assert len(mail.outbox) == 1


def test_it_goes_once_a_week_however_many_runs():
    organization = organization_since_october(timezone="UTC")
    admin_of(organization, "ana@acme.example")

    for hour in (8, 8, 9, 23):
        run_at(datetime(2026, 11, 30, hour, 10, tzinfo=UTC))
    run_at(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    assert len(mail.outbox) == 1
    assert DigestSend.objects.get().completed_at is not None

    # the next Monday: the next week
    run_at(datetime(2026, 12, 7, 8, 10, tzinfo=UTC))
    assert len(mail.outbox) == 2
    assert sorted(DigestSend.objects.values_list("week_start", flat=True)) == [
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]


def test_a_claim_left_by_a_dead_worker_is_not_sent_again():
    organization = organization_since_october(timezone="UTC")
    admin_of(organization, "ana@acme.example")
    admin_of(organization, "bo@acme.example")
    # a run that died after claiming Ana's email (it may have gone), before Bo's
    run_at(datetime(2026, 11, 30, 8, 5, tzinfo=UTC))
    mail.outbox.clear()
    DigestDelivery.objects.filter(email="bo@acme.example").delete()
    DigestSend.objects.update(completed_at=None)
    DigestDelivery.objects.filter(email="ana@acme.example").update(status=DeliveryStatus.SENDING)

    # when the next hour's run comes

    run_at(datetime(2026, 11, 30, 9, 5, tzinfo=UTC))

    assert [m.to for m in mail.outbox] == [["bo@acme.example"]]


def test_a_refused_email_is_retried_next_hour_then_given_up(monkeypatch):
    organization = organization_since_october(timezone="UTC")
    admin_of(organization, "ana@acme.example")
    refuse = True
    real_send = mail.EmailMultiAlternatives.send

    def send(self, *args, **kwargs):
        if refuse:
            raise smtplib.SMTPRecipientsRefused({"ana@acme.example": (450, b"busy")})
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMultiAlternatives, "send", send)
    run_at(datetime(2026, 11, 30, 8, 5, tzinfo=UTC))
    delivery = DigestDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert "busy" in delivery.last_error

    refuse = False
    run_at(datetime(2026, 11, 30, 9, 5, tzinfo=UTC))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(mail.outbox) == 1

    # refused three times: given up, and the week is done
    refuse = True
    DigestRecipient.objects.create(organization=organization, email="cy@acme.example")
    DigestSend.objects.update(completed_at=None)
    for hour in (10, 11, 12, 13):
        run_at(datetime(2026, 11, 30, hour, 5, tzinfo=UTC))
    cy = DigestDelivery.objects.get(email="cy@acme.example")
    assert (cy.status, cy.attempts) == (DeliveryStatus.GAVE_UP, 3)
    assert DigestSend.objects.get().completed_at is not None


def test_recipients_listed_by_hand_the_admins_or_only_the_list():
    organization = organization_since_october(timezone="UTC")
    admin_of(organization, "ana@acme.example")
    DigestRecipient.objects.create(organization=organization, email="team@acme.example")
    DigestRecipient.objects.create(
        organization=organization, email="gone@acme.example", unsubscribed_at=datetime.now(UTC)
    )
    run_at(datetime(2026, 11, 30, 8, 5, tzinfo=UTC))
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@acme.example", "team@acme.example"]

    DigestSchedule.objects.create(organization=organization, to_admins=False)
    mail.outbox.clear()
    run_at(datetime(2026, 12, 7, 8, 5, tzinfo=UTC))
    assert [m.to for m in mail.outbox] == [["team@acme.example"]]


def test_unsubscribing_with_the_link_stops_the_digest():
    organization = organization_since_october(name="Acme", timezone="UTC")
    admin_of(organization, "ana@acme.example")
    run_at(datetime(2026, 11, 30, 8, 5, tzinfo=UTC))
    url = re.sub(r"^https?://[^/]+", "", mail.outbox[0].extra_headers["List-Unsubscribe"][1:-1])
    client = Client(enforce_csrf_checks=True)

    # a GET (a mail scanner following the link) shows a button and changes nothing
    page = client.get(url)
    assert page.status_code == 200
    assert b"Unsubscribe from the weekly digest?" in page.content
    assert DigestRecipient.objects.get().unsubscribed_at is None

    # the mail client's one-click POST, without cookie or CSRF token, unsubscribes
    done = client.post(url, "List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    assert DigestRecipient.objects.get().unsubscribed_at is not None

    mail.outbox.clear()
    run_at(datetime(2026, 12, 7, 8, 5, tzinfo=UTC))
    assert mail.outbox == []


def test_a_tampered_token_is_refused():
    organization = organization_since_october(timezone="UTC")
    recipient = DigestRecipient.objects.create(organization=organization, email="a@x.example")
    other = DigestRecipient.objects.create(organization=organization, email="b@x.example")
    token = unsubscribe_token(recipient)
    # another address's claims under this one's signature
    forged = unsubscribe_token(other).partition(":")[0] + ":" + token.partition(":")[2]
    client = Client()
    for bad in [forged, token[:-2] + "xx", "nonsense"]:
        response = client.post(f"/reports/digest/unsubscribe/{bad}/")
        assert response.status_code == 400
        assert b"This link is not valid" in response.content
    assert not DigestRecipient.objects.filter(unsubscribed_at__isnull=False).exists()
    # a valid token of an address since deleted and re-added (a new row) is not theirs
    recipient.delete()
    DigestRecipient.objects.create(organization=organization, email="a@x.example")
    assert client.post(f"/reports/digest/unsubscribe/{token}/").status_code == 400
