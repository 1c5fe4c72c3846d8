"""The daily LinkedIn relations run: acceptances whose new_relation webhook never came
are filled in from Unipile's relations list, newest first, back to the window's start."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from messaging.models import Invitation, InvitationState, Relation
from providers import Provider
from reconciliation import services
from reconciliation.models import RunKind, RunStatus, RunTrigger
from tenants.errors import ApplicationError
from tests.factories import ContactFactory
from tests.providers.test_unipile_relations import ACCOUNT_ID, DSN, JULIEN
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

RELATIONS_API = f"{DSN}/api/v1/users/relations"
UNTIL = datetime(2026, 11, 20, 2, 15, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=72)


@pytest.fixture
def linkedin(organization):
    return make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id=ACCOUNT_ID,
        api_base_url=DSN,
    )


def _relation(slug: str, *, at: datetime, member_id: str = "") -> dict:
    return {
        "object": "UserRelation",
        "first_name": slug.title(),
        "last_name": "Lead",
        "public_identifier": slug,
        "public_profile_url": f"https://www.linkedin.com/in/{slug}",
        "created_at": int(at.timestamp() * 1000),
        "member_id": member_id or "987654",
    }


def _page(items: list[dict], cursor: str | None) -> httpx.Response:
    return httpx.Response(
        200, json={"object": "UserRelationsList", "items": items, "cursor": cursor}
    )


def _invited(channel, slug: str, **fields) -> Invitation:
    contact = ContactFactory(organization=channel.organization, name=slug)
    invitation = Invitation.objects.create(
        organization=channel.organization,
        channel=channel,
        contact=contact,
        state=InvitationState.SENT,
        public_identifier=slug,
        **fields,
    )
    # Sent before the window: an acceptance in it is dated by the relation itself.
    sent_at = SINCE - timedelta(days=1)
    Invitation.objects.filter(pk=invitation.pk).update(created_at=sent_at, sent_at=sent_at)
    return invitation


def _run(channel):
    run = services.run_create(
        channel=channel,
        trigger=RunTrigger.SCHEDULE,
        kind=RunKind.RELATIONS,
        since=SINCE,
        until=UNTIL,
    )
    return services.run_execute(run_id=run.pk)


def test_a_missed_acceptance_is_filled_and_the_run_stops_at_the_window_start(linkedin, respx_mock):
    # given two invitations of ours; only julien accepted (and no webhook came)
    julien = _invited(linkedin, "julien-crepieux", provider_id=JULIEN)
    waiting = _invited(linkedin, "still-waiting")
    route = respx_mock.get(RELATIONS_API).mock(
        side_effect=[
            _page(
                [
                    _relation("someone-else", at=UNTIL - timedelta(hours=1)),
                    _relation("julien-crepieux", at=UNTIL - timedelta(hours=20), member_id=JULIEN),
                ],
                "page-2",
            ),
            # the second page reaches back before the window: the run ends there
            _page(
                [
                    _relation("recent-too", at=SINCE + timedelta(hours=1)),
                    _relation("long-ago", at=SINCE - timedelta(days=30)),
                ],
                "page-3",
            ),
        ]
    )

    # when the relations run goes
    run = _run(linkedin)

    # then julien's invitation is accepted at the relation's time, the other waits
    julien.refresh_from_db()
    waiting.refresh_from_db()
    assert julien.state == InvitationState.ACCEPTED
    assert julien.accepted_at == UNTIL - timedelta(hours=20)
    assert waiting.state == InvitationState.SENT
    assert route.call_count == 2
    assert route.calls[1].request.url.params["cursor"] == "page-2"
    assert (run.status, run.fetched, run.created, run.updated) == (RunStatus.SUCCEEDED, 4, 2, 1)
    assert set(Relation.objects.values_list("public_identifier", flat=True)) == {
        "someone-else",
        "julien-crepieux",
        "recent-too",
    }


def test_a_second_run_changes_nothing(linkedin, respx_mock):
    _invited(linkedin, "julien-crepieux")
    respx_mock.get(RELATIONS_API).mock(
        return_value=_page([_relation("julien-crepieux", at=UNTIL - timedelta(hours=2))], None)
    )
    _run(linkedin)

    again = _run(linkedin)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_an_acceptance_the_webhook_already_told_is_unchanged(linkedin, respx_mock):
    invitation = _invited(linkedin, "julien-crepieux", provider_id=JULIEN)
    told_at = UNTIL - timedelta(hours=3)
    Relation.objects.create(
        organization=linkedin.organization,
        channel=linkedin,
        provider_id=JULIEN,
        public_identifier="julien-crepieux",
        connected_at=told_at,
        source="webhook",
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        state=InvitationState.ACCEPTED, accepted_at=told_at
    )
    respx_mock.get(RELATIONS_API).mock(
        return_value=_page([_relation("julien-crepieux", at=told_at, member_id=JULIEN)], None)
    )

    run = _run(linkedin)

    invitation.refresh_from_db()
    assert invitation.accepted_at == told_at
    assert (run.created, run.updated, run.unchanged) == (0, 0, 1)


def test_only_linkedin_channels_have_relations(organization):
    twilio = make_channel(organization, Provider.TWILIO, account_id="AC" + "1" * 32)

    with pytest.raises(ApplicationError) as refused:
        services.run_create(channel=twilio, trigger=RunTrigger.API, kind=RunKind.RELATIONS)

    assert refused.value.details["kind"][0]["code"] == "unsupported"


def test_the_daily_schedule_makes_a_relations_run_per_linkedin_channel(linkedin, organization):
    make_channel(organization, Provider.TWILIO, account_id="AC" + "1" * 32)

    scheduled = services.runs_schedule_all(kind=RunKind.RELATIONS)

    (run_id,) = scheduled.runs
    run = services.ReconciliationRun.objects.get(pk=run_id)
    assert (run.channel_id, run.kind) == (linkedin.pk, RunKind.RELATIONS)
    assert run.window_end - run.window_start == timedelta(hours=72)
