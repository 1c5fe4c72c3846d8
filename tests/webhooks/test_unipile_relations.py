"""The new_relation webhook end to end: an accepted LinkedIn invitation is marked
accepted once, however often the webhook comes and however late."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from conversations.models import ContactIdentity, IdentityKind
from messaging import invitations
from messaging.models import Invitation, InvitationState, Relation
from providers import Provider
from tests.factories import ContactFactory
from tests.webhooks.delivery import fixture_text
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

JULIEN = "ACoAAAh_Ffqss54sqAGQOD8u7sl5of04y9_3AwyM"


@pytest.fixture
def unipile(endpoints):
    return endpoints[Provider.UNIPILE]


def _invitation(channel, *, sent_hours_ago: float = 1, **fields) -> Invitation:
    contact = ContactFactory(organization=channel.organization, name="Julien")
    invitation = Invitation.objects.create(
        organization=channel.organization,
        channel=channel,
        contact=contact,
        **{
            "state": InvitationState.SENT,
            "public_identifier": "julien-crepieux",
            "provider_id": JULIEN,
            **fields,
        },
    )
    sent_at = datetime.now(UTC) - timedelta(hours=sent_hours_ago)
    Invitation.objects.filter(pk=invitation.pk).update(created_at=sent_at, sent_at=sent_at)
    invitation.refresh_from_db()
    return invitation


def test_new_relation_accepts_our_invitation_and_records_the_identity(client, unipile):
    invitation = _invitation(unipile.channel)

    unipile.deliver(client, "new_relation")

    invitation.refresh_from_db()
    assert invitation.state == InvitationState.ACCEPTED
    assert invitation.accepted_at >= invitation.sent_at
    identity = ContactIdentity.objects.get(channel=unipile.channel, kind=IdentityKind.PROVIDER_ID)
    assert (identity.contact_id, identity.value) == (invitation.contact_id, JULIEN)
    webhook = WebhookEvent.objects.get()
    assert webhook.result == {"relation_accepted": 1}
    assert webhook.refs == JULIEN


def test_an_invitation_known_only_by_its_public_identifier_is_accepted(client, unipile):
    # queued: its profile was not resolved yet when the acceptance came
    invitation = _invitation(unipile.channel, provider_id="", state=InvitationState.QUEUED)

    unipile.deliver(client, "new_relation")

    invitation.refresh_from_db()
    assert invitation.state == InvitationState.ACCEPTED


def test_a_duplicate_webhook_is_applied_once(client, unipile):
    invitation = _invitation(unipile.channel)
    unipile.deliver(client, "new_relation")
    invitation.refresh_from_db()
    accepted_at = invitation.accepted_at

    # a byte-identical redelivery is acknowledged without a second event
    unipile.deliver(client, "new_relation")
    # and one that differs (another webhook of the users source) changes nothing
    body = {**json.loads(fixture_text(Provider.UNIPILE, "new_relation")), "webhook_name": "2nd"}
    unipile.deliver_text(client, json.dumps(body))

    invitation.refresh_from_db()
    assert invitation.accepted_at == accepted_at
    assert Relation.objects.count() == 1
    results = [w.result for w in WebhookEvent.objects.order_by("id")]
    assert results == [{"relation_accepted": 1}, {"relation_duplicate": 1}]


def test_a_late_acceptance_still_counts_for_the_campaign(client, unipile):
    # the invitation went out two days ago; LinkedIn tells the acceptance hours late
    invitation = _invitation(unipile.channel, sent_hours_ago=48)

    unipile.deliver(client, "new_relation")

    since = invitation.sent_at
    assert invitations.accepted_since(
        contact_ids=[invitation.contact_id], channel=unipile.channel, since=since
    ) == {invitation.contact_id}


def test_an_acceptance_before_our_invitation_exists_is_kept_and_answers_it_later(client, unipile):
    # given a relation webhook for someone we have not invited (yet)
    unipile.deliver(client, "new_relation")
    assert WebhookEvent.objects.get().result == {"relation_recorded": 1}

    # when a campaign then invites them
    Invitation.objects.all().delete()
    contact = ContactFactory(organization=unipile.channel.organization)
    invitation = invitations.invitation_send(
        channel=unipile.channel,
        contact=contact,
        profile="https://www.linkedin.com/in/julien-crepieux/",
    )

    # then it is accepted at once, nothing sent
    assert invitation.state == InvitationState.ACCEPTED
    assert invitations.accepted_since(
        contact_ids=[contact.pk], channel=unipile.channel, since=invitation.created_at
    ) == {contact.pk}


def test_another_channel_s_invitation_is_not_accepted(client, unipile, endpoints, organization):
    other = _invitation(endpoints[Provider.WHATSAPP_CLOUD].channel)

    unipile.deliver(client, "new_relation")

    other.refresh_from_db()
    assert other.state == InvitationState.SENT
