"""LinkedIn through Unipile, provider side: the recorded contracts parse, and the
client resolves profiles, invites and lists relations as the docs say
(docs/unipile-linkedin.md)."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers import Provider, unipile
from providers.base import PayloadError, SignedRequest
from providers.events import ContactRef, RelationAccepted
from providers.http import ProviderError
from providers.unipile_client import UnipileClient
from providers.unipile_relations import (
    public_identifier_of,
    relation_created_at,
    relation_from_api,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "unipile"
DSN = "https://api1.unipile.com:13111"
ACCOUNT_ID = "dfXlh46vQYCsMbVarumWlg"
JULIEN = "ACoAAAh_Ffqss54sqAGQOD8u7sl5of04y9_3AwyM"
RECEIVED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def fixture(name: str) -> dict:
    """A recorded payload: webhooks in tests/fixtures/unipile/ (every one of them is
    delivered by the webhook tests), API answers in its api/ folder."""
    path = FIXTURES / f"{name}.json"
    return json.loads((path if path.exists() else FIXTURES / "api" / f"{name}.json").read_text())


def _parse(body: dict) -> list:
    return unipile.parse(SignedRequest(body=json.dumps(body).encode(), received_at=RECEIVED))


@pytest.fixture
def client():
    with UnipileClient("unipile-key", ACCOUNT_ID, base_url=DSN) as unipile_client:
        yield unipile_client


# --- the new_relation webhook ---------------------------------------------------------


def test_new_relation_is_a_relation_accepted_dated_when_received():
    (event,) = _parse(fixture("new_relation"))

    assert isinstance(event, RelationAccepted)
    assert event.provider == Provider.UNIPILE
    assert event.contact == ContactRef(provider_id=JULIEN, name="Julien Crépieux")
    assert event.public_identifier == "julien-crepieux"
    assert event.profile_url == "https://www.linkedin.com/in/julien-crepieux/"
    # The payload carries no time: when it reached us stands in.
    assert event.occurred_at == RECEIVED


def test_a_redelivered_new_relation_has_the_same_event_id():
    first = _parse(fixture("new_relation"))[0]
    again = unipile.parse(
        SignedRequest(
            body=json.dumps(fixture("new_relation")).encode(), received_at=datetime.now(UTC)
        )
    )[0]

    assert first.event_id == again.event_id == f"unipile:new_relation:{ACCOUNT_ID}:{JULIEN}"


def test_a_new_relation_naming_nobody_is_unreadable():
    body = {**fixture("new_relation"), "user_provider_id": "", "user_public_identifier": ""}
    body["user_profile_url"] = ""

    with pytest.raises(PayloadError):
        _parse(body)


# --- the relations list -----------------------------------------------------------------


def test_a_listed_relation_in_milliseconds_with_a_provider_id():
    item = fixture("relations_page")["items"][0]

    event = relation_from_api(item, account_id=ACCOUNT_ID, now=RECEIVED)

    assert event.contact == ContactRef(provider_id=JULIEN, name="Julien Crépieux")
    assert event.public_identifier == "julien-crepieux"
    assert event.occurred_at == datetime(2025, 12, 2, tzinfo=UTC)


def test_a_listed_relation_in_seconds_with_a_numeric_member_id_keeps_only_its_public_id():
    item = fixture("relations_page")["items"][1]

    event = relation_from_api(item, account_id=ACCOUNT_ID, now=RECEIVED)

    assert event.contact.provider_id == ""  # "123456789" is no provider id
    assert event.public_identifier == "jane-doe-123"
    assert event.occurred_at == datetime(2024, 4, 3, 16, tzinfo=UTC)


def test_a_relation_without_a_time_is_dated_now():
    assert relation_created_at({"created_at": None}) is None
    assert relation_created_at({"created_at": True}) is None
    item = {"public_identifier": "kim", "member_id": "x"}
    assert relation_from_api(item, account_id=ACCOUNT_ID, now=RECEIVED).occurred_at == RECEIVED


@pytest.mark.parametrize(
    ("profile", "identifier"),
    [
        ("https://www.linkedin.com/in/julien-crepieux/", "julien-crepieux"),
        ("linkedin.com/in/julien-crepieux?trk=x", "julien-crepieux"),
        ("https://fr.linkedin.com/in/j%C3%A9r%C3%B4me-d", "jérôme-d"),
        ("julien-crepieux", "julien-crepieux"),
        (JULIEN, JULIEN),
        ("https://www.linkedin.com/company/unipile", ""),
        ("not a profile", ""),
        ("", ""),
    ],
)
def test_public_identifier_of_a_profile(profile, identifier):
    assert public_identifier_of(profile) == identifier


# --- the client -------------------------------------------------------------------------


def test_resolve_profile_reads_the_provider_id_of_the_url(client, respx_mock):
    route = respx_mock.get(f"{DSN}/api/v1/users/julien-crepieux").respond(
        200, json=fixture("profile")
    )

    profile = client.resolve_profile("https://www.linkedin.com/in/julien-crepieux/")

    assert (profile.provider_id, profile.public_identifier, profile.name) == (
        JULIEN,
        "julien-crepieux",
        "Julien Crépieux",
    )
    request = route.calls.last.request
    assert request.url.params["account_id"] == ACCOUNT_ID
    assert request.headers["X-API-KEY"] == "unipile-key"


def test_an_unknown_profile_is_a_permanent_error(client, respx_mock):
    respx_mock.get(f"{DSN}/api/v1/users/nobody-here").respond(
        404, json=fixture("profile_not_found")
    )

    with pytest.raises(ProviderError) as raised:
        client.resolve_profile("nobody-here")

    assert raised.value.code == "errors/resource_not_found"
    assert not raised.value.transient


def test_an_identifier_cannot_reach_another_endpoint(client, respx_mock):
    with pytest.raises(ProviderError) as raised:
        client.resolve_profile("https://www.linkedin.com/company/unipile")

    assert raised.value.code == "invalid_recipient"
    assert not respx_mock.calls


def test_invite_posts_the_account_the_provider_id_and_the_note(client, respx_mock):
    route = respx_mock.post(f"{DSN}/api/v1/users/invite").respond(
        201, json=fixture("invite_response")
    )

    invited = client.invite(provider_id=JULIEN, note="Hello Julien")

    assert json.loads(route.calls.last.request.content) == {
        "account_id": ACCOUNT_ID,
        "provider_id": JULIEN,
        "message": "Hello Julien",
    }
    assert invited.invitation_id == "7243155236441403392"


def test_invite_without_a_note_sends_no_message_and_any_2xx_is_sent(client, respx_mock):
    route = respx_mock.post(f"{DSN}/api/v1/users/invite").respond(200, json={})

    invited = client.invite(provider_id=JULIEN)

    assert "message" not in json.loads(route.calls.last.request.content)
    assert invited.invitation_id == ""


def test_already_invited_is_named_by_its_problem_type(client, respx_mock):
    respx_mock.post(f"{DSN}/api/v1/users/invite").respond(
        422, json=fixture("invite_already_invited")
    )

    with pytest.raises(ProviderError) as raised:
        client.invite(provider_id=JULIEN)

    assert raised.value.code == "errors/already_invited_recently"
    assert not raised.value.transient


def test_relations_page_follows_the_cursor(client, respx_mock):
    route = respx_mock.get(f"{DSN}/api/v1/users/relations").respond(
        200, json=fixture("relations_page")
    )

    page = client.relations_page(cursor="abc", limit=50)

    assert len(page.items) == 2
    assert page.next == "eyJwYWdlIjoyfQ=="
    params = route.calls.last.request.url.params
    assert (params["account_id"], params["cursor"], params["limit"]) == (ACCOUNT_ID, "abc", "50")


def test_no_account_id_no_call():
    with (
        UnipileClient("k", "", base_url=DSN) as without_account,
        pytest.raises(ProviderError) as raised,
    ):
        without_account.invite(provider_id=JULIEN)

    assert raised.value.code == "no_account_id"
