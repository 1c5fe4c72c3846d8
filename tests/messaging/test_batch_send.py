"""The batch send (messaging.batch_send) refuses exactly what the single sends refuse,
with the same error, and queues the same message when nothing refuses."""

import pytest
from django.db import connection

from conversations.consent import consent_set
from conversations.consent_models import ConsentSource
from conversations.models import Message
from messaging import services
from messaging.batch_send import BatchItem, TemplateSend, messages_send_batch
from messaging.do_not_contact import do_not_contact_add
from messaging.limits import daily_cap_take, throughput_take
from messaging.models import SendLimit
from tenants.errors import ApplicationError, ErrorCode
from tests.factories import ConversationFactory
from tests.markers import postgresql_only

pytestmark = pytest.mark.django_db

PARAMETERS = {"body": {"order": "A-1", "day": "Friday"}}


def _switched_off(conversation, template):
    conversation.channel.is_active = False
    conversation.channel.save()


def _window_closed(conversation, template):
    conversation.window_expires_at = conversation.last_user_message_at = None
    conversation.save()


def _marketing_opt_out(conversation, template):
    template.category = "MARKETING"
    template.save()
    _opt_out(conversation, "marketing")


def _opt_out(conversation, scope):
    consent_set(
        contact=conversation.contact,
        kind="whatsapp",
        scope=scope,
        state="opted_out",
        source=ConsentSource.ADMIN,
    )


def _listed(conversation, template):
    do_not_contact_add(
        organization=conversation.organization, kind="phone", value="+16505551234", source="admin"
    )


def _throughput_used(conversation, template):
    SendLimit.objects.create(channel=conversation.channel, per_second=1)
    throughput_take(channel_id=conversation.channel_id, per_second=1)


def _day_used(conversation, template):
    SendLimit.objects.create(channel=conversation.channel, daily_cap=1)
    daily_cap_take(channel_id=conversation.channel_id, cap=1)


def _nothing(conversation, template):
    pass


TEXT, TEMPLATE = "text", "template"
# (name, what is sent, the setup, what it sends, the refusal's code or None: sent)
CASES = [
    ("sent_text", TEXT, _nothing, "Hello", None),
    ("sent_template", TEMPLATE, _nothing, PARAMETERS, None),
    ("switched_off", TEXT, _switched_off, "Hello", ErrorCode.VALIDATION_ERROR),
    ("switched_off_template", TEMPLATE, _switched_off, PARAMETERS, ErrorCode.VALIDATION_ERROR),
    ("blank", TEXT, _nothing, "   ", ErrorCode.VALIDATION_ERROR),
    ("too_long", TEXT, _nothing, "x" * 4097, ErrorCode.VALIDATION_ERROR),
    ("window_closed", TEXT, _window_closed, "Hello", ErrorCode.WINDOW_EXPIRED),
    ("window_closed_template_goes", TEMPLATE, _window_closed, PARAMETERS, None),
    ("not_approved", TEMPLATE, _nothing, "missing", ErrorCode.TEMPLATE_NOT_APPROVED),
    ("wrong_parameters", TEMPLATE, _nothing, {}, ErrorCode.TEMPLATE_PARAMS_MISMATCH),
    (
        "service_opt_out",
        TEXT,
        lambda c, t: _opt_out(c, "service"),
        "Hello",
        ErrorCode.CONTACT_OPTED_OUT,
    ),
    ("marketing_opt_out", TEMPLATE, _marketing_opt_out, PARAMETERS, ErrorCode.CONTACT_OPTED_OUT),
    (
        "marketing_opt_out_service_text_goes",
        TEXT,
        lambda c, t: _opt_out(c, "marketing"),
        "Hello",
        None,
    ),
    ("listed", TEXT, _listed, "Hello", ErrorCode.CONTACT_DO_NOT_CONTACT),
    ("listed_template", TEMPLATE, _listed, PARAMETERS, ErrorCode.CONTACT_DO_NOT_CONTACT),
    (
        "listed_and_closed",  # the list is checked before the window
        TEXT,
        lambda c, t: (_listed(c, t), _window_closed(c, t)),
        "Hi",
        ErrorCode.CONTACT_DO_NOT_CONTACT,
    ),
    ("throughput", TEXT, _throughput_used, "Hello", ErrorCode.RATE_LIMITED),
    ("daily_cap", TEMPLATE, _day_used, PARAMETERS, ErrorCode.RATE_LIMITED),
]


def _single(conversation, template, what, sending):
    if what == TEXT:
        return services.message_send_text(conversation=conversation, text=sending)
    name = "missing" if sending == "missing" else template.name
    parameters = PARAMETERS if sending == "missing" else sending
    return services.message_send_template(
        conversation=conversation, name=name, language="en_US", parameters=parameters
    )


def _batch(conversation, template, what, sending):
    if what == TEXT:
        item = BatchItem(conversation=conversation, text=sending)
    else:
        name = "missing" if sending == "missing" else template.name
        parameters = PARAMETERS if sending == "missing" else sending
        item = BatchItem(
            conversation=conversation,
            template=TemplateSend(name=name, language="en_US", parameters=parameters),
        )
    (answer,) = messages_send_batch(items=[item])
    if isinstance(answer, ApplicationError):
        raise answer
    return answer


@pytest.mark.parametrize("path", [_single, _batch], ids=["single", "batch"])
@pytest.mark.parametrize(
    ("name", "what", "setup", "sending", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_both_paths_refuse_the_same(conversation, template, path, name, what, setup, sending, code):
    setup(conversation, template)
    conversation.refresh_from_db()
    if code is None:
        message = path(conversation, template, what, sending)
        assert Message.objects.get(pk=message.pk).status == "queued"
        return
    with pytest.raises(ApplicationError) as refused:
        path(conversation, template, what, sending)
    assert refused.value.code == code
    assert not Message.objects.filter(direction="outbound").exists()


@pytest.mark.parametrize(
    ("name", "what", "setup", "sending", "code"),
    [c for c in CASES if c[4] not in (None, ErrorCode.RATE_LIMITED)],
    ids=[c[0] for c in CASES if c[4] not in (None, ErrorCode.RATE_LIMITED)],
)
def test_the_refusals_say_the_same(conversation, template, name, what, setup, sending, code):
    setup(conversation, template)
    conversation.refresh_from_db()
    errors = []
    for path in (_single, _batch):
        with pytest.raises(ApplicationError) as refused:
            path(conversation, template, what, sending)
        errors.append((refused.value.code, refused.value.message, refused.value.details))
    assert errors[0] == errors[1]


@postgresql_only("PostgreSQL's bulk statements; SQLite's backend splits them")
def test_a_batch_queues_the_same_messages_in_few_queries(
    conversation, template, django_assert_max_num_queries
):
    others = [
        ConversationFactory(organization=conversation.organization, channel=conversation.channel)
        for _ in range(20)
    ]
    single = services.message_send_template(
        conversation=conversation, name=template.name, language="en_US", parameters=PARAMETERS
    )
    items = [
        BatchItem(
            conversation=other,
            template=TemplateSend(name=template.name, language="en_US", parameters=PARAMETERS),
        )
        for other in others
    ]
    with django_assert_max_num_queries(10):
        answers = messages_send_batch(items=items)
    assert all(isinstance(a, Message) for a in answers)
    assert {(a.text, a.type, str(a.payload)) for a in answers} == {
        (single.text, single.type, str(single.payload))
    }
    for other in others:
        other.refresh_from_db()
        assert other.last_message_preview == single.text
        assert other.last_template_message_at is not None


def test_one_refused_item_does_not_hold_back_the_others(conversation, template):
    other = ConversationFactory(
        organization=conversation.organization, channel=conversation.channel
    )
    _listed(conversation, template)
    answers = messages_send_batch(
        items=[
            BatchItem(conversation=conversation, text="Hello"),
            BatchItem(
                conversation=other,
                template=TemplateSend(name=template.name, language="en_US", parameters=PARAMETERS),
            ),
        ]
    )
    assert answers[0].code == ErrorCode.CONTACT_DO_NOT_CONTACT
    assert isinstance(answers[1], Message)


def test_the_limiter_admits_the_first_ones_and_refuses_the_rest(conversation, template):
    SendLimit.objects.create(channel=conversation.channel, per_second=3)
    others = [
        ConversationFactory(organization=conversation.organization, channel=conversation.channel)
        for _ in range(5)
    ]
    items = [
        BatchItem(
            conversation=other,
            template=TemplateSend(name=template.name, language="en_US", parameters=PARAMETERS),
        )
        for other in others
    ]
    answers = messages_send_batch(items=items)
    assert [isinstance(a, Message) for a in answers] == [True, True, True, False, False]
    assert answers[3].code == ErrorCode.RATE_LIMITED
    assert answers[3].details["retry_after"] > 0


# What differs between two messages to two conversations, sent a moment apart.
_OWN_FIELDS = {"id", "conversation", "occurred_at", "created_at", "updated_at"}
_NOTED_FIELDS = [
    "last_activity_at",
    "last_message_at",
    "last_message_preview",
    "last_template_message_at",
    "window_expires_at",
    "is_window_open",
]


def _twin(conversation):
    """Another customer of the same channel, in the same state."""
    return ConversationFactory(
        organization=conversation.organization,
        channel=conversation.channel,
        last_user_message_at=conversation.last_user_message_at,
        window_expires_at=conversation.window_expires_at,
        is_window_open=conversation.is_window_open,
    )


def _fields(message) -> dict:
    return {
        field.name: getattr(message, field.attname)
        for field in Message._meta.concrete_fields
        if field.name not in _OWN_FIELDS
    }


def _document(message) -> str | None:
    """The generated search column (PostgreSQL's; SQLite has none)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_document::text FROM conversations_message WHERE id = %s", [message.pk]
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("what", [TEXT, TEMPLATE])
def test_a_batch_inserted_message_equals_a_single_sent_one(conversation, template, what):
    twin = _twin(conversation)
    sending = "Hello there" if what == TEXT else PARAMETERS
    single = Message.objects.get(pk=_single(conversation, template, what, sending).pk)
    returned = _batch(twin, template, what, sending)
    batched = Message.objects.get(pk=returned.pk)

    assert _fields(batched) == _fields(single)
    assert _fields(returned) == _fields(batched)  # the instance is what was written
    assert returned.occurred_at == batched.occurred_at
    assert batched.conversation_id == twin.pk
    assert batched.created_at is not None
    assert batched.updated_at is not None
    assert abs(batched.occurred_at - single.occurred_at).total_seconds() < 60
    assert _document(batched) == _document(single)
    # Each conversation noted its message the same way.
    conversation.refresh_from_db()
    twin.refresh_from_db()
    for noted, message in ((conversation, single), (twin, batched)):
        assert noted.last_message_at == noted.last_activity_at == message.occurred_at
        if what == TEMPLATE:
            assert noted.last_template_message_at == message.occurred_at
    assert [getattr(twin, name) for name in _NOTED_FIELDS if not name.endswith("_at")] == [
        getattr(conversation, name) for name in _NOTED_FIELDS if not name.endswith("_at")
    ]
    assert (twin.last_template_message_at is None) == (
        conversation.last_template_message_at is None
    )
