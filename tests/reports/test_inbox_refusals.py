"""Refused sends are counted once, whichever path refused them and whatever the
caller's transaction did afterwards, and the inbox reports show them by reason."""

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from rest_framework.test import APIClient

from conversations.models import Conversation
from messaging import services
from messaging.batch_send import BatchItem, TemplateSend, messages_send_batch
from messaging.models import DailyRefusalCount
from reports import inbox
from reports.ranges import DateRange, organization_tz
from tenants.errors import ApplicationError
from tests.factories import (
    ChannelFactory,
    ConversationFactory,
    MembershipFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

# 23:30 in Berlin (CET), 22:30 UTC: counted on the local day.
LATE = datetime(2026, 11, 10, 22, 30, tzinfo=UTC)


@pytest.fixture
def closed(db):
    """A conversation whose customer never wrote: free-form text is refused."""
    organization = OrganizationFactory(timezone="Europe/Berlin")
    agent = MembershipFactory(organization=organization).user
    conversation = ConversationFactory(
        organization=organization, channel=ChannelFactory(organization=organization)
    )
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    return Conversation.objects.select_related("channel").get(pk=conversation.pk)


def _counts(organization) -> dict:
    rows = DailyRefusalCount.objects.filter(organization=organization)
    return {(r.day, r.code, r.agent_id): r.count for r in rows}


def _post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_a_refused_send_is_counted_on_the_local_day_and_assignee(closed):
    with time_machine.travel(LATE, tick=False), pytest.raises(ApplicationError):
        services.message_send_text(conversation=closed, text="Hello")

    assert _counts(closed.organization) == {
        (date(2026, 11, 10), "WINDOW_EXPIRED", closed.assignee_id): 1
    }


def test_a_refusal_rolled_back_with_an_idempotent_request_still_counts_once(closed):
    client = _client(closed)
    url = f"/api/v1/conversations/{closed.pk}/messages"
    template = {"name": "nope", "language": "en_US", "parameters": {}}

    with time_machine.travel(LATE, tick=False):
        first = _post(client, url, {"text": "Hi"}, **{"Idempotency-Key": "k-1"})
        second = _post(client, url, {"template": template})

    assert (first.status_code, second.status_code) == (422, 422)
    assert _counts(closed.organization) == {
        (date(2026, 11, 10), "WINDOW_EXPIRED", closed.assignee_id): 1,
        (date(2026, 11, 10), "TEMPLATE_NOT_APPROVED", closed.assignee_id): 1,
    }


def test_a_send_to_a_new_number_is_counted_though_its_contact_is_rolled_back(closed):
    client = _client(closed)
    body = {"channel": closed.channel_id, "to": "+16505550142", "text": "Hi"}

    with time_machine.travel(LATE, tick=False):
        response = _post(client, "/api/v1/messages", body)

    assert response.status_code == 422
    assert _counts(closed.organization) == {(date(2026, 11, 10), "WINDOW_EXPIRED", 0): 1}


def test_a_batch_counts_each_refused_item(closed):
    items = [
        BatchItem(conversation=closed, text="Hi"),
        BatchItem(conversation=closed, template=TemplateSend("nope", "en_US", {})),
        BatchItem(conversation=closed, text="Hi again"),
    ]

    with time_machine.travel(LATE, tick=False):
        answers = messages_send_batch(items=items)

    assert all(isinstance(answer, ApplicationError) for answer in answers)
    assert _counts(closed.organization) == {
        (date(2026, 11, 10), "WINDOW_EXPIRED", closed.assignee_id): 2,
        (date(2026, 11, 10), "TEMPLATE_NOT_APPROVED", closed.assignee_id): 1,
    }


def test_a_health_checks_refusal_is_not_a_customers(closed):
    with pytest.raises(ApplicationError):
        services.message_send_text(conversation=closed, text="Check", health_check=True)

    assert _counts(closed.organization) == {}


def test_the_report_shows_refusals_by_reason(closed):
    organization = closed.organization
    for code, count in [
        ("WINDOW_EXPIRED", 3),
        ("TEMPLATE_NOT_APPROVED", 2),
        ("RATE_LIMITED", 4),
        ("CONTACT_OPTED_OUT", 1),
        ("CONTACT_DO_NOT_CONTACT", 1),
        ("TEMPLATE_PARAMS_MISMATCH", 5),
        ("VALIDATION_ERROR", 1),
    ]:
        DailyRefusalCount.objects.create(
            organization=organization,
            channel_id=closed.channel_id,
            agent_id=closed.assignee_id,
            day=date(2026, 11, 10),
            code=code,
            count=count,
        )
    span = DateRange(date(2026, 11, 10), date(2026, 11, 11), organization_tz(organization))

    days = inbox.inbox_days(organization=organization, span=span)
    by_agent = inbox.inbox_by_agent(organization=organization, span=span)

    refused = {k: v for k, v in days[0].items() if k.startswith("refused_")}
    assert refused == {
        "refused_window_expired": 3,
        "refused_template_not_approved": 2,
        "refused_rate_limited": 4,
        "refused_opted_out": 2,  # opted out, or on the do-not-contact list
        "refused_other": 6,
    }
    assert days[1]["refused_other"] == 0
    assert by_agent[0]["agent_id"] == closed.assignee_id
    assert by_agent[0]["refused_rate_limited"] == 4


def _client(conversation) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=conversation.assignee)
    return client
