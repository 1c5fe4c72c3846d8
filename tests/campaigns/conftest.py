import itertools
from datetime import UTC, datetime

import httpx
import pytest
import respx
import time_machine

from campaigns.models import Campaign, Enrollment, Step, StepKind
from campaigns.services import Lead, enrollments_add
from messaging.models import SendLimit
from providers import Provider
from tests.factories import ChannelFactory, ContactFactory, UserFactory
from tests.webhooks.conftest import make_channel

OPENPHONE_SEND = "https://api.openphone.com/v1/messages"
# Wednesday 4 March 2026, 10:00 in London (GMT): inside the default sending hours.
WEDNESDAY_10 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(WEDNESDAY_10, tick=False) as traveller:
        yield traveller


@pytest.fixture
def openphone():
    """OpenPhone's send API, faked at the HTTP layer: each send gets its own id."""
    ids = itertools.count(1)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(OPENPHONE_SEND).mock(
            side_effect=lambda request: httpx.Response(
                202, json={"data": {"id": f"AC{next(ids):06d}", "status": "queued"}}
            )
        )
        yield mock


@pytest.fixture
def sms(organization):
    organization.timezone = "Europe/London"
    organization.save()
    channel = make_channel(
        organization,
        Provider.OPENPHONE,
        access_token="op-key",
        phone_number_id="PNtoDbDhuz",
        window_policy="always_open",
    )
    # Throughput is not what these tests are about.
    SendLimit.objects.create(channel=channel, per_second=10_000)
    return channel


@pytest.fixture
def owner(organization):
    return UserFactory(username="owner", email="owner@example.com")


def make_campaign(channel, steps: list[dict], **fields) -> Campaign:
    campaign = Campaign.objects.create(
        organization=channel.organization, channel=channel, name="Spring outreach", **fields
    )
    for position, step in enumerate(steps, start=1):
        Step.objects.create(campaign=campaign, position=position, **step)
    return campaign


def enroll(campaign: Campaign, *leads: dict) -> list[Enrollment]:
    """Each lead: a contact of its own with a distinct phone, and its fields."""
    added = [
        Lead(
            contact=ContactFactory(
                organization=campaign.organization, phone=f"+1650555{index:04d}"
            ),
            fields=fields,
        )
        for index, fields in enumerate(leads, start=1)
    ]
    enrollments_add(campaign=campaign, leads=added)
    return list(Enrollment.objects.filter(campaign=campaign).order_by("pk"))


def sent_bodies(mock) -> list[dict]:
    import json

    return [json.loads(call.request.content) for call in mock.calls]


@pytest.fixture
def tick(django_capture_on_commit_callbacks):
    """One scheduler run, with what it queues after its commits run (the send tasks,
    eager here, and the owner's emails), as a worker would."""
    from campaigns.scheduler import scheduler_tick

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return scheduler_tick(**kwargs)

    return run


# The operator surface's tests (API, admin, import): a draft SMS campaign.


@pytest.fixture
def sms_channel(organization):
    return ChannelFactory(
        organization=organization, provider=Provider.TWILIO, name="Sales SMS", phone_number_id=""
    )


@pytest.fixture
def campaign(organization, sms_channel):
    """A draft SMS campaign of two text steps."""
    campaign = Campaign.objects.create(
        organization=organization, channel=sms_channel, name="Spring outreach"
    )
    Step.objects.create(
        campaign=campaign, position=1, kind=StepKind.TEXT, text="Hi {{first_name|there}}!"
    )
    Step.objects.create(
        campaign=campaign,
        position=2,
        kind=StepKind.TEXT,
        delay_amount=2,
        text="{{first_name}}, how is {{company}} doing?",
    )
    return campaign
