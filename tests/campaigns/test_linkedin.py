"""A LinkedIn campaign end to end: the scheduler invites through messaging (Unipile
faked at the HTTP layer), leads wait for their acceptance however late it comes (the
new_relation webhook, or the relations reconciliation), then the first message starts
a new 1:1 chat. Leads who never accept stop at the timeout; the daily invitation cap
defers the rest of a batch to the next day; a lead already connected goes on at once."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest
import respx

from campaigns import services
from campaigns.models import EnrollmentState, EnrollmentStep, StepKind, StepOutcome
from campaigns.services import Lead, enrollments_add
from conversations.models import Direction, Message
from messaging import invitations
from messaging.models import Invitation, InvitationState, Relation, SendLimit
from providers import Provider
from providers.events import ContactRef, RelationAccepted
from tests.campaigns.conftest import WEDNESDAY_10, make_campaign
from tests.factories import ContactFactory
from tests.providers.test_unipile_relations import ACCOUNT_ID, DSN, fixture
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint

pytestmark = pytest.mark.django_db

TIMEOUT_DAYS = 3
STEPS = [
    {"kind": StepKind.LINKEDIN_INVITATION, "note": "Hi {{first_name}}, let's connect."},
    {
        "kind": StepKind.WAIT_FOR_ACCEPTANCE,
        "timeout_amount": TIMEOUT_DAYS,
        "timeout_unit": "working_days",
    },
    {"kind": StepKind.TEXT, "text": "Thanks for connecting, {{first_name|there}}!"},
]
PROFILE = r"^/api/v1/users/(?P<slug>[\w-]+)$"
HOST = "api1.unipile.com"
INVITE = f"{DSN}/api/v1/users/invite"
CHATS = f"{DSN}/api/v1/chats"


def provider_id(slug: str) -> str:
    return f"ACoAA-{slug}"


@pytest.fixture
def linkedin(organization):
    organization.timezone = "Europe/London"
    organization.save()
    channel = make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id=ACCOUNT_ID,
        api_base_url=DSN,
        window_policy="always_open",
    )
    SendLimit.objects.create(channel=channel, per_second=10_000)  # the cap, not the pace
    return channel


@pytest.fixture
def unipile():
    """Unipile's API: each profile resolves to its own provider id, invitations are
    taken, and each started chat gets its own id."""
    chats = itertools.count(1)

    def profile(request, slug):
        body = {**fixture("profile"), "provider_id": provider_id(slug), "public_identifier": slug}
        return httpx.Response(200, json=body)

    def chat_started(request):
        number = next(chats)
        body = {"object": "ChatStarted", "chat_id": f"chat-{number}", "message_id": f"m-{number}"}
        return httpx.Response(201, json=body)

    with respx.mock(assert_all_called=False) as mock:
        mock.get(host=HOST, path__regex=PROFILE, name="profile").mock(side_effect=profile)
        mock.post(INVITE, name="invite").respond(201, json=fixture("invite_response"))
        mock.post(CHATS, name="start_chat").mock(side_effect=chat_started)
        yield mock


def enroll_leads(campaign, *first_names: str):
    """Leads as a LinkedIn lead list gives them: a first name and a profile URL (the
    contacts have no phone and no LinkedIn id yet)."""
    contacts = [
        ContactFactory(organization=campaign.organization, name=name, phone="")
        for name in first_names
    ]
    enrollments_add(
        campaign=campaign,
        leads=[
            Lead(contact=contact, fields={"first_name": name, "linkedin": profile_url(name)})
            for contact, name in zip(contacts, first_names, strict=True)
        ],
    )
    return {
        e.fields["first_name"]: e
        for e in campaign.enrollments.select_related("contact").order_by("pk")
    }


def profile_url(name: str) -> str:
    return f"https://www.linkedin.com/in/{name.lower()}-lead/"


def slug(name: str) -> str:
    return f"{name.lower()}-lead"


def invite_bodies(unipile) -> dict[str, str]:
    """provider id -> the invitation's note, for every invitation sent."""
    bodies = [json.loads(call.request.content) for call in unipile["invite"].calls]
    return {body["provider_id"]: body.get("message", "") for body in bodies}


def chat_forms(unipile) -> list[dict[str, str]]:
    forms = []
    for call in unipile["start_chat"].calls:
        request = call.request
        head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + request.content)
        forms.append(
            {
                part.get_param("name", header="content-disposition"): part.get_content()
                for part in message.iter_parts()
            }
        )
    return forms


def accept(channel, name: str, at: datetime) -> str:
    """LinkedIn tells us the lead accepted (as the webhook or the reconciliation does)."""
    event = RelationAccepted(
        provider=Provider.UNIPILE,
        event_id=f"unipile:new_relation:{ACCOUNT_ID}:{provider_id(slug(name))}",
        occurred_at=at,
        raw={},
        contact=ContactRef(provider_id=provider_id(slug(name)), name=name),
        public_identifier=slug(name),
    )
    return invitations.relation_apply(channel=channel, event=event)


def refreshed(*enrollments):
    for enrollment in enrollments:
        enrollment.refresh_from_db()
    return enrollments


def test_invited_leads_wait_and_a_late_acceptance_starts_a_new_chat_with_that_lead(
    linkedin, unipile, clock, tick
):
    campaign = make_campaign(linkedin, STEPS)
    leads = enroll_leads(campaign, "Ada", "Bob")
    services.campaign_start(campaign=campaign)

    # when the scheduler runs: each lead is invited with their own note
    tick()
    assert unipile["profile"].call_count == 2
    assert invite_bodies(unipile) == {
        provider_id("ada-lead"): "Hi Ada, let's connect.",
        provider_id("bob-lead"): "Hi Bob, let's connect.",
    }
    tick()  # the wait step starts
    ada, bob = refreshed(leads["Ada"], leads["Bob"])
    assert (ada.state, ada.wait_reason) == (EnrollmentState.WAITING, "acceptance")
    assert ada.current_position == 2
    assert not unipile["start_chat"].called

    # when Ada accepts five hours later (LinkedIn tells it late) and the scheduler runs
    clock.move_to(WEDNESDAY_10 + timedelta(hours=5))
    assert accept(linkedin, "Ada", at=WEDNESDAY_10 + timedelta(hours=1)) == "accepted"
    tick()
    tick()

    # then Ada's text starts a new chat, once, written from Ada's fields only
    assert chat_forms(unipile) == [
        {
            "account_id": ACCOUNT_ID,
            "attendees_ids": provider_id("ada-lead"),
            "text": "Thanks for connecting, Ada!",
        }
    ]
    ada, bob = refreshed(ada, bob)
    assert ada.state == EnrollmentState.COMPLETED
    message = Message.objects.get(conversation__contact=ada.contact, direction=Direction.OUTBOUND)
    assert (message.provider_message_id, message.status) == ("m-1", "sent")
    assert message.conversation.provider_conversation_ref == "chat-1"
    # and Bob, who has not accepted, still waits
    assert (bob.state, bob.wait_reason) == (EnrollmentState.WAITING, "acceptance")

    # when the scheduler runs again, nothing is sent twice
    clock.move_to(WEDNESDAY_10 + timedelta(hours=6))
    tick()
    assert unipile["start_chat"].call_count == 1
    assert unipile["invite"].call_count == 2


def test_an_acceptance_by_the_signed_new_relation_webhook_lets_the_lead_go_on(
    client, linkedin, unipile, clock, tick
):
    campaign = make_campaign(linkedin, STEPS)
    leads = enroll_leads(campaign, "Julien")
    services.campaign_start(campaign=campaign)
    tick()
    tick()

    # when Unipile's new_relation webhook comes, hours later
    clock.move_to(WEDNESDAY_10 + timedelta(hours=3))
    payload = {
        **fixture("new_relation"),
        "user_full_name": "Julien",
        "user_provider_id": provider_id("julien-lead"),
        "user_public_identifier": "julien-lead",
        "user_profile_url": profile_url("Julien"),
    }
    response = Endpoint(Provider.UNIPILE, linkedin).deliver_text(client, json.dumps(payload))
    assert response.status_code == 200
    tick()
    tick()

    # then the lead's first message starts the chat
    (julien,) = refreshed(leads["Julien"])
    assert julien.state == EnrollmentState.COMPLETED
    assert [form["text"] for form in chat_forms(unipile)] == ["Thanks for connecting, Julien!"]
    accepted = EnrollmentStep.objects.get(enrollment=julien, outcome=StepOutcome.ACCEPTED)
    assert accepted.position == 2


def test_a_lead_who_never_accepts_is_stopped_at_the_timeout(linkedin, unipile, clock, tick):
    campaign = make_campaign(linkedin, STEPS)
    leads = enroll_leads(campaign, "Ada")
    services.campaign_start(campaign=campaign)
    tick()
    tick()

    # two working days later (Friday), still waiting
    clock.move_to(datetime(2026, 3, 6, 10, 30, tzinfo=UTC))
    tick()
    (ada,) = refreshed(leads["Ada"])
    assert (ada.state, ada.wait_reason) == (EnrollmentState.WAITING, "acceptance")
    assert ada.wait_until == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # 3 working days: Monday

    # after the timeout (the weekend skipped)
    clock.move_to(datetime(2026, 3, 9, 10, 1, tzinfo=UTC))
    tick()
    (ada,) = refreshed(ada)
    assert (ada.state, ada.stop_reason) == (EnrollmentState.STOPPED, "invitation_not_accepted")
    assert not unipile["start_chat"].called
    # and an acceptance after the stop sends nothing
    accept(linkedin, "Ada", at=datetime(2026, 3, 9, 11, 0, tzinfo=UTC))
    tick()
    assert not unipile["start_chat"].called


def test_the_daily_invitation_cap_reached_mid_batch_defers_the_rest_to_the_next_day(
    linkedin, unipile, clock, tick
):
    campaign = make_campaign(linkedin, STEPS[:2])
    names = [f"Lead{index:02d}" for index in range(30)]
    leads = enroll_leads(campaign, *names)
    services.campaign_start(campaign=campaign)

    # when the scheduler runs over 30 leads with the channel's default cap of 25
    tick()

    # then 25 are invited today, and the campaign waits for the next sending day
    assert unipile["invite"].call_count == 25
    assert Invitation.objects.filter(channel=linkedin).count() == 25
    campaign.refresh_from_db()
    thursday_9 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert campaign.capped_until == thursday_9
    deferred = [e for e in refreshed(*leads.values()) if e.current_position <= 1]
    assert len(deferred) == 5
    assert all(e.next_run_at == thursday_9 for e in deferred)
    assert all(e.state == EnrollmentState.ACTIVE for e in deferred)

    # when the scheduler runs again the same day: nothing more
    clock.move_to(WEDNESDAY_10 + timedelta(hours=2))
    tick()
    assert unipile["invite"].call_count == 25

    # the next day the other five are invited
    clock.move_to(thursday_9 + timedelta(minutes=1))
    tick()
    assert unipile["invite"].call_count == 30
    assert len(invite_bodies(unipile)) == 30  # thirty different people, each once


def test_a_lead_already_connected_is_accepted_at_once(linkedin, unipile, clock, tick):
    # given the account is connected with Ada already (an earlier relation)
    Relation.objects.create(
        organization=linkedin.organization,
        channel=linkedin,
        provider_id=provider_id("ada-lead"),
        public_identifier="ada-lead",
        name="Ada",
        connected_at=WEDNESDAY_10 - timedelta(days=30),
    )
    campaign = make_campaign(linkedin, STEPS)
    leads = enroll_leads(campaign, "Ada")
    services.campaign_start(campaign=campaign)

    # when the scheduler runs: no invitation is sent, and she goes on without waiting
    tick()
    tick()

    invitation = Invitation.objects.get(channel=linkedin)
    assert invitation.state == InvitationState.ACCEPTED
    assert not unipile["invite"].called
    (ada,) = refreshed(leads["Ada"])
    assert EnrollmentStep.objects.filter(enrollment=ada, outcome=StepOutcome.ACCEPTED).exists()
    # and her first message starts a chat with the relation's provider id
    tick()
    (ada,) = refreshed(ada)
    assert ada.state == EnrollmentState.COMPLETED
    assert chat_forms(unipile) == [
        {
            "account_id": ACCOUNT_ID,
            "attendees_ids": provider_id("ada-lead"),
            "text": "Thanks for connecting, Ada!",
        }
    ]
