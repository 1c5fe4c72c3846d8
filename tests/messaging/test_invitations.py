"""LinkedIn invitations: admitted with every send check and the daily invitation cap,
delivered by a task that never invites twice, the profile resolved first."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import TestCase

from conversations.models import ContactIdentity, IdentityKind
from messaging import invitations
from messaging.limits import DEFAULT_DAILY_CAP, limits_for
from messaging.models import (
    DailyInvitationCount,
    Invitation,
    InvitationState,
    Relation,
    SendLimit,
)
from providers import Provider
from tenants.errors import ApplicationError, ErrorCode
from tests.factories import ContactFactory
from tests.providers.test_unipile_relations import ACCOUNT_ID, DSN, JULIEN, fixture
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

PROFILE_URL = "https://www.linkedin.com/in/julien-crepieux/"
PROFILE_API = f"{DSN}/api/v1/users/julien-crepieux"
INVITE_API = f"{DSN}/api/v1/users/invite"


@pytest.fixture
def linkedin(organization):
    channel = make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id=ACCOUNT_ID,
        api_base_url=DSN,
    )
    # Fast enough that tests sending several invitations meet the cap, not the pace.
    SendLimit.objects.create(channel=channel, per_second=1000)
    return channel


@pytest.fixture
def lead(organization):
    return ContactFactory(organization=organization, name="Julien", phone="")


@pytest.fixture
def unipile(respx_mock):
    respx_mock.get(PROFILE_API).respond(200, json=fixture("profile"))
    respx_mock.post(INVITE_API).respond(201, json=fixture("invite_response"))
    return respx_mock


def _send(linkedin, lead, **fields) -> Invitation:
    return invitations.invitation_send(channel=linkedin, contact=lead, **fields)


def _deliver(invitation: Invitation) -> str:
    outcome = invitations.invitation_deliver(invitation_id=invitation.pk).outcome
    invitation.refresh_from_db()
    return outcome


def test_an_invitation_resolves_the_profile_then_invites_with_the_note(linkedin, lead, unipile):
    # given an invitation to a lead known by their profile URL
    invitation = _send(linkedin, lead, profile=PROFILE_URL, note="Hi Julien")
    assert (invitation.state, invitation.public_identifier) == ("queued", "julien-crepieux")

    # when its task runs
    assert _deliver(invitation) == "sent"

    # then Unipile was asked for the profile, then invited the provider id with the note
    invite = unipile.routes[1].calls.last.request
    assert json.loads(invite.content) == {
        "account_id": ACCOUNT_ID,
        "provider_id": JULIEN,
        "message": "Hi Julien",
    }
    assert invitation.state == InvitationState.SENT
    assert invitation.provider_id == JULIEN
    assert invitation.provider_invitation_id == "7243155236441403392"
    assert invitation.sent_at is not None
    # and the lead is now known on the channel by that provider id
    identity = ContactIdentity.objects.get(channel=linkedin, kind=IdentityKind.PROVIDER_ID)
    assert (identity.contact_id, identity.value) == (lead.pk, JULIEN)


def test_a_contact_known_by_provider_id_is_invited_without_a_profile_lookup(
    linkedin, lead, unipile
):
    ContactIdentity.objects.create(
        contact=lead, channel=linkedin, kind=IdentityKind.PROVIDER_ID, value=JULIEN
    )

    invitation = _send(linkedin, lead)
    _deliver(invitation)

    assert not unipile.routes[0].called
    assert unipile.routes[1].call_count == 1
    assert invitation.state == InvitationState.SENT


def test_a_redelivered_task_invites_once(linkedin, lead, unipile):
    invitation = _send(linkedin, lead, profile=PROFILE_URL)

    outcomes = [_deliver(invitation), _deliver(invitation)]

    assert outcomes == ["sent", "skipped"]
    assert unipile.routes[1].call_count == 1


def test_a_task_run_while_another_holds_the_claim_invites_no_one(linkedin, lead, unipile):
    invitation = _send(linkedin, lead, profile=PROFILE_URL)
    Invitation.objects.filter(pk=invitation.pk).update(send_claimed_at=datetime.now(UTC))

    assert _deliver(invitation) == "skipped"
    assert not unipile.calls


def test_the_task_is_queued_when_the_send_commits(linkedin, lead, unipile):
    with TestCase.captureOnCommitCallbacks(execute=True):
        invitation = _send(linkedin, lead, profile=PROFILE_URL)

    invitation.refresh_from_db()
    assert invitation.state == InvitationState.SENT  # eager Celery ran the task


def test_the_sweep_sends_an_invitation_whose_worker_died_and_linkedin_says_already_invited(
    linkedin, lead, respx_mock
):
    # given an invitation whose worker died after LinkedIn took it (claim long expired)
    invitation = _send(linkedin, lead, profile=PROFILE_URL)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    Invitation.objects.filter(pk=invitation.pk).update(send_claimed_at=long_ago, provider_id=JULIEN)
    respx_mock.post(INVITE_API).respond(422, json=fixture("invite_already_invited"))

    # when the sweep queues it again (eager Celery runs the task)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert invitations.invitations_queued_sweep() == 1

    # then LinkedIn's "already invited" is the invitation having been sent
    invitation.refresh_from_db()
    assert invitation.state == InvitationState.SENT
    assert invitation.error_code == "errors/already_invited_recently"


def test_already_connected_is_accepted(linkedin, lead, unipile, respx_mock):
    respx_mock.post(INVITE_API).respond(422, json=fixture("invite_already_connected"))
    invitation = _send(linkedin, lead, profile=PROFILE_URL)

    assert _deliver(invitation) == "accepted"
    assert invitation.state == InvitationState.ACCEPTED
    assert invitation.accepted_at is not None


def test_an_unknown_profile_fails_the_invitation_with_unipile_s_code(linkedin, lead, respx_mock):
    respx_mock.get(PROFILE_API).respond(404, json=fixture("profile_not_found"))
    invitation = _send(linkedin, lead, profile=PROFILE_URL)

    assert _deliver(invitation) == "failed"
    assert invitation.state == InvitationState.FAILED
    assert invitation.error_code == "errors/resource_not_found"


def test_a_transient_error_retries_and_releases_the_claim(linkedin, lead, unipile, respx_mock):
    respx_mock.post(INVITE_API).respond(503, json={})
    invitation = _send(linkedin, lead, profile=PROFILE_URL)

    delivery = invitations.invitation_deliver(invitation_id=invitation.pk)

    invitation.refresh_from_db()
    assert (delivery.outcome, delivery.retry_in) == ("retry", 2.0)
    assert (invitation.state, invitation.send_claimed_at) == ("queued", None)
    assert invitation.provider_id == JULIEN  # resolved once, kept for the retry


def test_a_standing_invitation_is_returned_not_sent_again(linkedin, lead, unipile):
    first = _send(linkedin, lead, profile=PROFILE_URL)

    again = _send(linkedin, lead, profile=PROFILE_URL)

    assert again.pk == first.pk
    assert DailyInvitationCount.objects.get().count == 1


def test_a_failed_invitation_may_be_sent_again(linkedin, lead, unipile):
    first = _send(linkedin, lead, profile=PROFILE_URL)
    Invitation.objects.filter(pk=first.pk).update(state=InvitationState.FAILED)

    assert _send(linkedin, lead, profile=PROFILE_URL).pk != first.pk


def test_someone_already_a_relation_is_accepted_at_once_unsent_and_uncounted(
    linkedin, lead, respx_mock
):
    Relation.objects.create(
        organization=linkedin.organization,
        channel=linkedin,
        public_identifier="julien-crepieux",
        connected_at=datetime.now(UTC) - timedelta(days=30),
        source="webhook",
    )

    invitation = _send(linkedin, lead, profile=PROFILE_URL)

    assert invitation.state == InvitationState.ACCEPTED
    assert not DailyInvitationCount.objects.exists()
    assert not respx_mock.calls


# --- checks and caps ------------------------------------------------------------------


@time_machine.travel(datetime(2026, 3, 10, 18, 0, tzinfo=UTC), tick=False)
def test_the_daily_invitation_cap_refuses_until_the_next_utc_day(linkedin, organization):
    SendLimit.objects.filter(channel=linkedin).update(daily_invitation_cap=2)
    leads = [ContactFactory(organization=organization) for _ in range(3)]
    for index, contact in enumerate(leads[:2]):
        _send(linkedin, contact, profile=f"lead-{index}")

    with pytest.raises(ApplicationError) as refused:
        _send(linkedin, leads[2], profile="lead-2")

    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert refused.value.details["retry_after"] == 6 * 3600  # 18:00 to midnight UTC
    assert "2 invitations" in refused.value.message
    assert Invitation.objects.count() == 2


def test_linkedin_defaults_are_25_invitations_and_100_messages_a_day(linkedin):
    SendLimit.objects.filter(channel=linkedin).delete()

    limits = limits_for(linkedin)

    assert (limits.daily_invitation_cap, limits.daily_cap) == (25, 100)
    assert DEFAULT_DAILY_CAP == {Provider.UNIPILE: 100}


def test_a_channel_s_own_caps_win(linkedin):
    SendLimit.objects.filter(channel=linkedin).update(daily_cap=40, daily_invitation_cap=10)

    limits = limits_for(linkedin)

    assert (limits.daily_invitation_cap, limits.daily_cap) == (10, 40)


def test_throughput_applies_to_invitations(linkedin, organization):
    SendLimit.objects.filter(channel=linkedin).update(per_second=1)
    first, second = (ContactFactory(organization=organization) for _ in range(2))
    _send(linkedin, first, profile="lead-a")

    with pytest.raises(ApplicationError) as refused:
        _send(linkedin, second, profile="lead-b")

    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert 0 < refused.value.details["retry_after"] <= 1


def test_invitations_go_on_linkedin_channels_only(organization, lead):
    sms = make_channel(organization, Provider.TWILIO, account_id="AC" + "1" * 32)

    with pytest.raises(ApplicationError) as refused:
        invitations.invitation_send(channel=sms, contact=lead, profile=PROFILE_URL)

    assert refused.value.details["channel"][0]["code"] == "unsupported"


def test_an_inactive_channel_refuses(linkedin, lead):
    linkedin.is_active = False
    linkedin.save()

    with pytest.raises(ApplicationError) as refused:
        _send(linkedin, lead, profile=PROFILE_URL)

    assert refused.value.details["channel"][0]["code"] == "inactive"


def test_a_profile_is_needed_and_a_note_is_at_most_300_characters(linkedin, lead):
    with pytest.raises(ApplicationError) as no_profile:
        _send(linkedin, lead, profile="https://example.com/someone")
    with pytest.raises(ApplicationError) as long_note:
        _send(linkedin, lead, profile=PROFILE_URL, note="x" * 301)

    assert no_profile.value.details["profile"][0]["code"] == "required"
    assert long_note.value.details["note"][0]["code"] == "too_long"
    assert not Invitation.objects.exists()


# --- what the campaign engine asks --------------------------------------------------


def test_accepted_since_answers_in_one_query(linkedin, organization, django_assert_num_queries):
    now = datetime.now(UTC)
    accepted, earlier, waiting = (ContactFactory(organization=organization) for _ in range(3))
    for contact, state, at in [
        (accepted, InvitationState.ACCEPTED, now),
        (earlier, InvitationState.ACCEPTED, now - timedelta(days=3)),
        (waiting, InvitationState.SENT, None),
    ]:
        Invitation.objects.create(
            organization=organization,
            channel=linkedin,
            contact=contact,
            state=state,
            accepted_at=at,
        )

    with django_assert_num_queries(1):
        found = invitations.accepted_since(
            contact_ids=[accepted.pk, earlier.pk, waiting.pk],
            channel=linkedin,
            since=now - timedelta(hours=1),
        )

    assert found == {accepted.pk}


def test_a_lead_who_opted_out_of_linkedin_is_not_invited(linkedin, lead, unipile):
    from conversations.consent import consent_set
    from conversations.consent_models import ConsentSource

    consent_set(contact=lead, kind="linkedin", scope="marketing", state="opted_out", source="api")

    with pytest.raises(ApplicationError) as refused:
        _send(linkedin, lead, profile=PROFILE_URL)

    assert refused.value.code == ErrorCode.CONTACT_OPTED_OUT
    assert refused.value.details["source"] == ConsentSource.API
    assert not Invitation.objects.exists()


def test_a_listed_linkedin_id_is_not_invited(linkedin, lead, unipile):
    from messaging.do_not_contact import do_not_contact_add

    ContactIdentity.objects.create(
        contact=lead, channel=linkedin, kind=IdentityKind.PROVIDER_ID, value="ACoAAJulien"
    )
    do_not_contact_add(
        organization=lead.organization, kind="linkedin", value="ACoAAJulien", source="api"
    )

    with pytest.raises(ApplicationError) as refused:
        _send(linkedin, lead)

    assert refused.value.code == ErrorCode.CONTACT_DO_NOT_CONTACT
    assert not Invitation.objects.exists()


def test_forgetting_a_lead_forgets_their_invitation_and_relation(linkedin, lead, unipile):
    from conversations.erasure import contact_erase
    from conversations.models import ErasureSource

    invitation = _send(linkedin, lead, profile=PROFILE_URL, note="Hi Julien")
    _deliver(invitation)
    Relation.objects.create(
        organization=linkedin.organization,
        channel=linkedin,
        provider_id=invitation.provider_id,
        name="Julien Crepieux",
        connected_at=datetime.now(UTC),
        source="webhook",
    )

    contact_erase(organization=lead.organization, contact_id=lead.pk, source=ErasureSource.COMMAND)

    invitation.refresh_from_db()
    assert (invitation.profile, invitation.provider_id, invitation.note) == ("", "", "")
    assert invitation.public_identifier == ""
    assert invitation.state == InvitationState.SENT  # counts stay
    assert not Relation.objects.exists()


def test_an_opt_out_filed_after_the_invitation_was_queued_withholds_it(linkedin, lead, unipile):
    from conversations.consent import consent_set

    invitation = _send(linkedin, lead, profile=PROFILE_URL)
    consent_set(contact=lead, kind="linkedin", scope="service", state="opted_out", source="api")

    assert _deliver(invitation) == "failed"
    assert (invitation.state, invitation.error_code) == ("failed", "CONTACT_OPTED_OUT")
    assert not unipile.calls
