"""Sending messages: to a conversation, or to a phone number on a channel.

Both take an Idempotency-Key header: a repeated request returns the first answer and
sends once. Agents and admins send; viewers read.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors
from conversations.api.serializers import MessageSerializer
from conversations.api.views import ConversationMessageViewSet
from conversations.models import Conversation, Message
from messaging import services
from messaging.api.serializers import SendSerializer, SendToPhoneSerializer
from messaging.idempotency import HEADER, Answer, idempotent, request_fingerprint
from messaging.refusals import refusal_kept
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel, Role

# What a send can answer besides any write's errors (tenants.api.schema documents them).
SEND_ERROR_CODES = (
    ErrorCode.TEMPLATE_PARAMS_MISMATCH,
    ErrorCode.IDEMPOTENCY_CONFLICT,
    ErrorCode.WINDOW_EXPIRED,
    ErrorCode.TEMPLATE_NOT_APPROVED,
    ErrorCode.RATE_LIMITED,
)
SEND_ERRORS = (
    "Needs the agent role. A repeated request with the same Idempotency-Key and body "
    "returns the first answer and sends once. Errors: 400 VALIDATION_ERROR (field "
    "details); 400 TEMPLATE_PARAMS_MISMATCH (details.expected); 401 NOT_AUTHENTICATED; "
    "403 PERMISSION_DENIED; 404 NOT_FOUND; 409 IDEMPOTENCY_CONFLICT (the key was used for "
    "another request); 422 WINDOW_EXPIRED (details.closed_at: only a template may be "
    "sent); 422 TEMPLATE_NOT_APPROVED; 429 RATE_LIMITED (details.retry_after, seconds, "
    "and a Retry-After header)."
)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID) per intended send, kept for 24 hours.",
)
SEND_EXAMPLES = [
    OpenApiExample("Text", value={"text": "Your order has shipped."}, request_only=True),
    OpenApiExample(
        "Template",
        value={
            "template": {
                "name": "order_update",
                "language": "en_US",
                "parameters": {"body": {"order": "#1042"}},
            }
        },
        request_only=True,
    ),
]


class ConversationMessagesView(ConversationMessageViewSet):
    """A conversation's messages: anyone reads them (the inbox), agents send."""

    write_role = Role.AGENT
    error_codes = {"create": SEND_ERROR_CODES}

    @extend_schema(
        summary="Send a message in this conversation",
        description=f"Free-form text while the window is open, or an approved template at "
        f"any time. Answers 201 with the message, `queued`; its status then follows the "
        f"provider's webhooks. {SEND_ERRORS}",
        request=SendSerializer,
        responses={201: MessageSerializer},
        parameters=[
            OpenApiParameter("conversation_id", OpenApiTypes.INT, OpenApiParameter.PATH),
            IDEMPOTENCY_PARAMETER,
        ],
        examples=SEND_EXAMPLES,
    )
    def create(self, request, conversation_id=None):
        conversation = selectors.conversation_get(
            organization=self.organization, conversation_id=url_object_id(conversation_id)
        )
        data = validated(SendSerializer, request.data)
        return _answered(request, self.organization, lambda: _send(conversation, data))


class MessageSendView(OrganizationScopedMixin, APIView):
    """Send to a phone number; its contact and conversation are found or created."""

    write_role = Role.AGENT
    error_codes = {"post": SEND_ERROR_CODES}

    @extend_schema(
        summary="Send a message to a phone number on a channel",
        description=f"Finds or creates the contact and the conversation, then sends as "
        f"POST conversations/{{id}}/messages does. {SEND_ERRORS}",
        request=SendToPhoneSerializer,
        responses={201: MessageSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=[
            OpenApiExample(
                "Template to a number",
                value={
                    "channel": 3,
                    "to": "+16505551234",
                    "template": {"name": "welcome", "language": "en_US", "parameters": {}},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = validated(SendToPhoneSerializer, request.data)
        channel = Channel.objects.filter(organization=self.organization, pk=data["channel"]).first()
        if channel is None:
            raise field_error("channel", "Not one of this organization's channels.")
        return _answered(request, self.organization, lambda: _send_to_phone(channel, data))


def _send(conversation: Conversation, data: dict) -> Answer:
    if "template" in data:
        message = services.message_send_template(conversation=conversation, **data["template"])
    else:
        message = services.message_send_text(
            conversation=conversation, text=data["text"], reply_to=data["reply_to"]
        )
    return _created(message)


def _send_to_phone(channel: Channel, data: dict) -> Answer:
    message = services.message_send_to_phone(
        channel=channel, phone=data["to"], text=data.get("text", ""), template=data.get("template")
    )
    return _created(message)


def _created(message: Message) -> Answer:
    return Answer(201, MessageSerializer(message).data, message_id=message.pk)


def _answered(request, organization, perform) -> Response:
    key = request.headers.get(HEADER)
    try:
        answer = _performed(request, organization, key, perform)
    except ApplicationError as error:
        refusal_kept(error)  # its count went with the rolled-back transaction
        raise
    response = Response(answer.body, status=answer.status)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _performed(request, organization, key, perform) -> Answer:
    if key is None:
        return perform()
    fingerprint = request_fingerprint(
        method=request.method, path=request.path.rstrip("/"), body=request.data
    )
    return idempotent(organization=organization, key=key, fingerprint=fingerprint, perform=perform)
