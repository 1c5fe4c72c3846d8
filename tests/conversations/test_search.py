"""Finding a conversation by what was said: the API's `q` and the admin's search over
message text, next to contact name, phone and provider ids."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import selectors, text_search
from conversations.models import Message
from tenants.models import Role
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    UserFactory,
)
from tests.markers import postgresql_only

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/"
CONVERSATIONS = "/admin/conversations/conversation/"
MESSAGES = "/admin/conversations/message/"


@pytest.fixture(params=["rare", "common"])
def word_share(request, monkeypatch):
    """Both ways of searching message text: as a set of the matching conversations
    (rare words) and by asking each conversation of the inbox in turn (common ones)."""
    monkeypatch.setattr(selectors, "COMMON_SHARE", 2.0 if request.param == "rare" else 0.0)
    return request.param


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def _said(organization, *texts: str, minutes_ago: int = 0, **contact):
    """A conversation whose customer wrote `texts`, its latest activity `minutes_ago`."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    conversation = ConversationFactory(
        organization=organization,
        contact=ContactFactory(organization=organization, **contact),
        last_activity_at=at,
    )
    for text in texts:
        MessageFactory(conversation=conversation, text=text)
    return conversation


def _listed(response) -> list[int]:
    assert response.status_code == 200
    return [row.pk for row in response.context["cl"].result_list]


# --- The API -------------------------------------------------------------------------


def test_a_conversation_is_found_by_a_word_of_one_of_its_messages(
    agent_client, organization, word_share
):
    found = _said(organization, "Hello", "My parcel never arrived, can you check?")
    _said(organization, "Do you have this in blue?")

    assert _ids(agent_client.get(URL, {"q": "parcel"})) == [found.id]


def test_message_text_joins_name_phone_and_provider_ids(agent_client, organization, word_share):
    by_text = _said(organization, "Is the Kimono in stock?", minutes_ago=1)
    by_name = _said(organization, "hello", name="Kim Lee", minutes_ago=2)
    _said(organization, "nothing to see", name="Alex")

    assert _ids(agent_client.get(URL, {"q": "kim"})) == [by_text.id, by_name.id]


def test_another_organizations_message_text_never_matches(
    agent_client, organization, other_organization, word_share
):
    _said(other_organization, "Where is my parcel?")
    mine = _said(organization, "Thanks!")

    assert _ids(agent_client.get(URL, {"q": "parcel"})) == []
    assert _ids(agent_client.get(URL, {"q": "thanks"})) == [mine.id]


def test_a_conversation_with_several_matching_messages_is_listed_once(
    agent_client, organization, word_share
):
    by_text = _said(organization, "parcel one", "parcel two", "the parcel again", minutes_ago=1)
    by_both = _said(organization, "a parcel", "parcel", name="Parcel Co", minutes_ago=2)

    assert _ids(agent_client.get(URL, {"q": "parcel"})) == [by_text.id, by_both.id]


@pytest.mark.parametrize("query", ["PARCEL", "pArCeL", "parcel"])
def test_case_is_ignored(agent_client, organization, word_share, query):
    found = _said(organization, "My Parcel is late")

    assert _ids(agent_client.get(URL, {"q": query})) == [found.id]


@postgresql_only("accents are folded by the unaccent text search configuration")
@pytest.mark.parametrize(
    ("said", "query"),
    [("Le CAFÉ était fermé", "cafe"), ("the cafe was closed", "Café"), ("Größe 42?", "grosse")],
)
def test_accents_are_ignored(agent_client, organization, word_share, said, query):
    found = _said(organization, said)

    assert _ids(agent_client.get(URL, {"q": query})) == [found.id]


def test_every_word_must_be_in_one_message_and_the_last_may_be_the_start_of_one(
    agent_client, organization, word_share
):
    both = _said(organization, "The parcel arrived damaged")
    _said(organization, "damaged", "parcel")  # in two messages, not one

    assert _ids(agent_client.get(URL, {"q": "damaged parcel"})) == [both.id]
    assert _ids(agent_client.get(URL, {"q": "damaged parc"})) == [both.id]
    assert _ids(agent_client.get(URL, {"q": "parcel arr"})) == [both.id]


def test_punctuation_and_tsquery_syntax_are_only_words(agent_client, organization, word_share):
    found = _said(organization, "order 42 isn't here")

    assert _ids(agent_client.get(URL, {"q": "'order' & !42 :*"})) == [found.id]
    assert _ids(agent_client.get(URL, {"q": "!!!"})) == []


def test_queries_per_page_stay_the_same_while_searching_text(
    agent_client, organization, word_share
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert len(_ids(agent_client.get(URL, {"q": "parcel"}))) == count
        return len(captured)

    count = 2
    for _ in range(count):
        _said(organization, "parcel", "parcel again")
    few = queries()
    count = 12
    for _ in range(count - 2):
        _said(organization, "parcel", "parcel again")

    assert queries() == few


def test_the_embedded_default_matches_text_that_contains_the_words(
    agent_client, organization, monkeypatch
):
    """Without PostgreSQL's index the text is searched with a case-insensitive
    "contains", every word in the same message."""
    monkeypatch.setattr(text_search, "full_text", lambda: False)
    found = _said(organization, "My PARCEL was damaged")
    _said(organization, "parcel", "damaged")

    assert _ids(agent_client.get(URL, {"q": "arcel damag"})) == [found.id]


# --- PostgreSQL's index and statistics -----------------------------------------------


@postgresql_only("the full-text index exists on PostgreSQL only")
def test_the_text_search_uses_the_index(organization):
    MessageFactory(conversation=ConversationFactory(organization=organization), text="parcel")
    query = Message.objects.filter(
        text_search.message_text_matches(text_search.text_search("parcel"))
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()

    assert "message_text_search" in plan


@postgresql_only("the share is read from PostgreSQL's statistics of the index")
def test_the_share_of_a_word_comes_from_the_index_statistics(organization):
    conversation = ConversationFactory(organization=organization)
    for n in range(200):
        MessageFactory(conversation=conversation, text=f"parcel number{n} delivery")
    MessageFactory(conversation=conversation, text="a chargeback")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_message")

    assert text_search.text_search("parcel").share > 0.9
    assert text_search.text_search("Deliv").share > 0.9  # a prefix, any case
    assert text_search.text_search("parcel chargeback").share < text_search.COMMON_SHARE
    assert text_search.text_search("zeppelin").share == 0


@postgresql_only("which words are common is read from PostgreSQL's statistics")
def test_a_common_last_word_is_taken_whole_and_a_rare_one_as_a_prefix(organization):
    conversation = ConversationFactory(organization=organization)
    for n in range(200):
        MessageFactory(conversation=conversation, text=f"parcel number{n} delivery")
    whole = MessageFactory(conversation=conversation, text="my parcels arrived")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_message")

    assert text_search.text_search("damaged parcel").prefix_last is False
    assert text_search.text_search("damaged deliv").prefix_last is True
    assert text_search.text_search("damaged parc").prefix_last is True
    found = Message.objects.filter(
        text_search.message_text_matches(text_search.text_search("parc"))
    )
    assert whole in found
    assert found.count() == 201
    assert whole not in Message.objects.filter(
        text_search.message_text_matches(text_search.text_search("parcel"))
    )


# --- The admin -----------------------------------------------------------------------


def _staff_member(client, organization, role: Role = Role.AGENT):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    return client


def test_the_admins_conversation_list_finds_a_conversation_by_message_text(
    client, organization, other_organization, word_share
):
    found = _said(organization, "my parcel is late", minutes_ago=1)
    by_name = _said(organization, "hi", name="Parcelforce", minutes_ago=2)
    _said(organization, "hello")
    _said(other_organization, "another parcel, another tenant")
    member = _staff_member(client, organization)

    assert _listed(member.get(CONVERSATIONS, {"q": "parcel"})) == [found.pk, by_name.pk]


def test_a_superuser_finds_conversations_of_every_organization(
    client, organization, other_organization
):
    here = _said(organization, "parcel here", minutes_ago=1)
    there = _said(other_organization, "parcel there", minutes_ago=2)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert _listed(client.get(CONVERSATIONS, {"q": "parcel"})) == [here.pk, there.pk]


def test_the_message_admin_finds_by_text_provider_id_or_error_code(
    client, organization, other_organization
):
    conversation = ConversationFactory(organization=organization)
    by_text = MessageFactory(conversation=conversation, text="Where is my Parcel?")
    by_id = MessageFactory(conversation=conversation, provider_message_id="wamid.HBgL42")
    by_error = MessageFactory(conversation=conversation, error_code="131047")
    MessageFactory(conversation=ConversationFactory(organization=other_organization), text="parcel")
    member = _staff_member(client, organization, Role.VIEWER)

    assert _listed(member.get(MESSAGES, {"q": "parcel"})) == [by_text.pk]
    assert _listed(member.get(MESSAGES, {"q": "wamid.HBgL42"})) == [by_id.pk]
    assert _listed(member.get(MESSAGES, {"q": "131047"})) == [by_error.pk]
