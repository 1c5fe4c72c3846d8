"""Customers' keywords change their consent as their messages are filed, and record
the reply each keyword message gets (sent by messaging; see tests/messaging)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations.consent_models import (
    DEFAULT_REPLY_TEXTS,
    AutoReply,
    ConsentChange,
    ConsentKeyword,
    KeywordClass,
    KeywordReplyTexts,
)
from conversations.keywords import DEFAULT_KEYWORDS
from conversations.models import Contact, Message
from providers import Provider
from providers.events import MessageType
from tenants.models import KeywordReplies
from tests.conversations.consent_helpers import file, inbound, states
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

OPTED_OUT = {"service": "opted_out", "marketing": "opted_out"}
SUBSCRIBED = {"service": "subscribed", "marketing": "subscribed"}
UNKNOWN = {"service": "unknown", "marketing": "unknown"}


@pytest.fixture
def sms():
    return make_channel(OrganizationFactory(), Provider.OPENPHONE)


@pytest.fixture
def whatsapp():
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def _contact() -> Contact:
    return Contact.objects.get()


@pytest.mark.parametrize(
    "word", [w for w, c in DEFAULT_KEYWORDS.items() if c == KeywordClass.OPT_OUT]
)
def test_each_opt_out_keyword_opts_out_of_both_scopes_and_is_answered(sms, word):
    file(inbound(sms, word))

    assert states(_contact().pk, "sms") == OPTED_OUT
    reply = AutoReply.objects.get()
    assert (reply.keyword_class, reply.text) == ("opt_out", DEFAULT_REPLY_TEXTS["opt_out"])
    assert reply.keyword_message == Message.objects.get()
    change = ConsentChange.objects.filter(scope="service").get()
    assert (change.source, change.label, change.previous_state) == ("keyword", word, "unknown")
    assert change.message == Message.objects.get()


@pytest.mark.parametrize("word", ["START", "YES", "UNSTOP"])
def test_each_opt_in_keyword_subscribes(sms, word):
    file(inbound(sms, word))

    assert states(_contact().pk, "sms") == SUBSCRIBED
    assert AutoReply.objects.get().keyword_class == "opt_in"


@pytest.mark.parametrize("word", ["HELP", "INFO"])
def test_help_is_answered_and_changes_nothing(sms, word):
    file(inbound(sms, word))

    assert states(_contact().pk, "sms") == UNKNOWN
    assert not ConsentChange.objects.exists()
    assert AutoReply.objects.get().keyword_class == "help"


@pytest.mark.parametrize("text", ["stop", "  Stop  ", "stop\tall", " sToP   aLL\n", "Unsubscribe"])
def test_case_and_whitespace_do_not_matter(sms, text):
    file(inbound(sms, text))

    assert states(_contact().pk, "sms") == OPTED_OUT


@pytest.mark.parametrize(
    "text", ["stop by tomorrow", "STOP!", "please stop", "stopp", "YES please"]
)
def test_a_message_that_is_not_exactly_a_keyword_is_an_ordinary_message(sms, text):
    file(inbound(sms, text))

    assert states(_contact().pk, "sms") == UNKNOWN
    assert not AutoReply.objects.exists()


def test_only_text_messages_count(sms):
    file(inbound(sms, "STOP", type=MessageType.IMAGE))

    assert states(_contact().pk, "sms") == UNKNOWN


def test_an_organizations_own_keyword_in_another_language_gets_its_reply(sms):
    ConsentKeyword.objects.create(
        organization=sms.organization,
        keyword="PARAR",
        keyword_class=KeywordClass.OPT_OUT,
        language="pt-BR",
        reply_text="Você não receberá mais mensagens.",
    )
    ConsentKeyword.objects.create(
        organization=sms.organization, keyword="AYUDA", keyword_class="help", language="es"
    )
    KeywordReplyTexts.objects.create(organization=sms.organization, help="Llame al 555-0100.")

    file(inbound(sms, "parar"), inbound(sms, "Ayuda"))

    assert states(_contact().pk, "sms") == OPTED_OUT
    replies = AutoReply.objects.order_by("id")
    assert [r.text for r in replies] == [
        "Você não receberá mais mensagens.",
        "Llame al 555-0100.",  # the organization's help text: the keyword has none
    ]


def test_another_organizations_keyword_is_an_ordinary_message_here(sms):
    ConsentKeyword.objects.create(
        organization=OrganizationFactory(), keyword="PARAR", keyword_class="opt_out"
    )

    file(inbound(sms, "PARAR"))

    assert states(_contact().pk, "sms") == UNKNOWN


def test_an_empty_reply_text_sends_no_reply_but_the_opt_out_applies(sms):
    KeywordReplyTexts.objects.create(organization=sms.organization, opt_out="")

    file(inbound(sms, "STOP"))

    assert states(_contact().pk, "sms") == OPTED_OUT
    assert not AutoReply.objects.exists()


def test_a_stop_among_other_messages_of_the_batch_applies_once_in_order(sms):
    now = timezone.now()
    outcomes = file(
        inbound(sms, "Hi, is my order ready?", at=now - timedelta(seconds=3)),
        inbound(sms, "STOP", at=now - timedelta(seconds=2)),
        inbound(sms, "thanks", at=now - timedelta(seconds=1)),
    )

    assert outcomes == ["created"] * 3
    assert states(_contact().pk, "sms") == OPTED_OUT
    assert ConsentChange.objects.count() == 2  # service and marketing
    assert AutoReply.objects.get().keyword_message.text == "STOP"
    assert Message.objects.count() == 3


def test_stop_then_start_in_one_batch_ends_subscribed_with_both_in_the_history(sms):
    now = timezone.now()
    # Given in the opposite order: the customer's order (their timestamps) decides.
    file(inbound(sms, "START", at=now), inbound(sms, "STOP", at=now - timedelta(seconds=5)))

    assert states(_contact().pk, "sms") == SUBSCRIBED
    history = ConsentChange.objects.filter(scope="service").order_by("id")
    assert [(c.previous_state, c.state) for c in history] == [
        ("unknown", "opted_out"),
        ("opted_out", "subscribed"),
    ]
    assert [r.keyword_class for r in AutoReply.objects.order_by("id")] == ["opt_out", "opt_in"]


def test_opt_in_after_opt_out(sms):
    file(inbound(sms, "STOP", at=timezone.now() - timedelta(minutes=5)))
    file(inbound(sms, "START"))

    assert states(_contact().pk, "sms") == SUBSCRIBED
    assert ConsentChange.objects.count() == 4


def test_an_older_keyword_arriving_late_does_not_undo_a_newer_one(sms):
    file(inbound(sms, "START"))
    file(inbound(sms, "STOP", at=timezone.now() - timedelta(minutes=5)))

    assert states(_contact().pk, "sms") == SUBSCRIBED


def test_a_second_stop_changes_nothing_more_but_is_answered_again(sms):
    file(inbound(sms, "STOP", at=timezone.now() - timedelta(minutes=1)))
    file(inbound(sms, "stop"))

    assert ConsentChange.objects.count() == 2
    assert AutoReply.objects.count() == 2


def test_a_redelivered_keyword_message_applies_and_is_answered_once(sms):
    file(inbound(sms, "STOP", message_id="SM-1"))
    file(inbound(sms, "START", message_id="SM-2"))

    again = file(inbound(sms, "STOP", message_id="SM-1"))

    assert again == ["duplicate"]
    assert states(_contact().pk, "sms") == SUBSCRIBED
    assert AutoReply.objects.count() == 2
    assert ConsentChange.objects.count() == 4


def test_on_whatsapp_the_keyword_changes_the_whatsapp_consent_only(whatsapp):
    file(inbound(whatsapp, "STOP"))

    contact = _contact()
    assert states(contact.pk, "whatsapp") == OPTED_OUT
    assert states(contact.pk, "sms") == UNKNOWN


def test_a_twilio_channel_does_not_answer_keywords_by_default(organization):
    twilio = make_channel(organization, Provider.TWILIO)

    file(inbound(twilio, "STOP"))

    assert states(_contact().pk, "sms") == OPTED_OUT  # applied all the same
    assert not AutoReply.objects.exists()  # Twilio answered it itself


def test_a_twilio_channel_with_keyword_replies_on_answers(organization):
    twilio = make_channel(organization, Provider.TWILIO)
    twilio.keyword_replies = KeywordReplies.ON
    twilio.save()

    file(inbound(twilio, "STOP"))

    assert AutoReply.objects.get().channel == twilio


def test_another_channel_with_keyword_replies_off_does_not_answer(sms):
    sms.keyword_replies = KeywordReplies.OFF
    sms.save()

    file(inbound(sms, "STOP"))

    assert not AutoReply.objects.exists()


def test_a_keyword_filed_long_after_it_was_written_is_applied_but_not_answered(sms):
    file(inbound(sms, "STOP", at=timezone.now() - timedelta(days=3)))

    assert states(_contact().pk, "sms") == OPTED_OUT
    assert not AutoReply.objects.exists()


def test_the_replies_recorded_are_handed_over_once_the_batch_commits(
    sms, django_capture_on_commit_callbacks
):
    handed = []

    with django_capture_on_commit_callbacks(execute=True):
        file(inbound(sms, "STOP"), inbound(sms, "hello"), on_replies_pending=handed.append)

    assert handed == [[AutoReply.objects.get().pk]]


def test_keywords_cost_no_query_per_message(sms, django_assert_max_num_queries):
    file(inbound(sms, "warm-up"))  # the contact and conversation exist
    now = timezone.now()
    batch = [inbound(sms, "STOP" if i % 10 == 0 else f"m{i}", at=now) for i in range(50)]

    with django_assert_max_num_queries(20):
        file(*batch)
