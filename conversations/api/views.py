"""The inbox API: conversations, their messages and window, contacts, counters.

Everyone in the organization reads; agents and admins work conversations (read,
unread, assign, status). Views validate the input, call a selector or a service and
serialize; another organization's conversation or contact is NOT_FOUND everywhere.
"""

from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors, services
from conversations.api.filters import (
    ContactFilter,
    ConversationFilter,
    MessageFilter,
    MessageOrder,
    filters_validated,
)
from conversations.api.serializers import (
    AssignSerializer,
    ConsentChangeSerializer,
    ConsentSetSerializer,
    ContactDetailSerializer,
    ContactErasureSerializer,
    ContactSerializer,
    ConversationSerializer,
    InboxCountersSerializer,
    MessageSerializer,
    StatusSerializer,
    WindowStatusSerializer,
)
from conversations.consent import consent_set
from conversations.consent_models import ConsentChange, ConsentSource
from conversations.erasure import contact_erase
from conversations.models import Contact, Conversation, ErasureSource, Message
from conversations.window import window_status as window_status_now
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.api.pagination import CursorPagination
from tenants.models import Role

READ_ERRORS = (
    "Errors: 401 NOT_AUTHENTICATED; 404 NOT_FOUND when the id is not one of the organization's."
)
WRITE_ERRORS = (
    "Needs the agent role. Errors: 401 NOT_AUTHENTICATED; 403 PERMISSION_DENIED for "
    "viewers; 404 NOT_FOUND when the conversation is not one of the organization's."
)
LIST_ERRORS = (
    "Errors: 400 VALIDATION_ERROR with details per query parameter; 401 NOT_AUTHENTICATED."
)

CONVERSATION_EXAMPLE = {
    "id": 42,
    "status": "open",
    "snoozed_until": None,
    "assignee": {"id": 7, "username": "sam"},
    "unread_count": 0,
    "last_activity_at": "2026-11-20T12:00:00Z",
    "last_message_at": "2026-11-20T12:00:00Z",
    "last_message_preview": "Is my order on its way?",
    "contact": {"id": 12, "name": "Kim Lee", "phone": "+16505551234"},
    "channel": {"id": 3, "name": "Sales WhatsApp", "provider": "whatsapp_cloud"},
    "window": {
        "state": "ACTIVE",
        "expires_at": "2026-11-21T12:00:00Z",
        "seconds_remaining": 3600,
        "hours_remaining": 1.0,
        "can_send_free_form": True,
        "can_send_template": True,
    },
    "bot_active": True,
    "created_at": "2026-11-19T08:30:00Z",
    "updated_at": "2026-11-20T12:05:00Z",
}


COUNTS_EXAMPLE = {"open": 12, "unread": 5, "unassigned": 3, "mine": 4, "expiring_windows": 2}


def _conversation_example(name: str, **changes) -> OpenApiExample:
    return OpenApiExample(name, value={**CONVERSATION_EXAMPLE, **changes}, response_only=True)


class ConversationPagination(CursorPagination):
    ordering = selectors.CONVERSATION_ORDER


class MessagePagination(CursorPagination):
    ordering = selectors.MESSAGE_ORDER  # index message_conv_occurred


MESSAGE_ORDERING = {
    MessageOrder.NEWEST: selectors.MESSAGE_ORDER,
    MessageOrder.OLDEST: tuple(field.removeprefix("-") for field in selectors.MESSAGE_ORDER),
}


class ConversationViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """The inbox. Viewers read; agents and admins work conversations."""

    serializer_class = ConversationSerializer
    pagination_class = ConversationPagination
    read_role = Role.VIEWER
    write_role = Role.AGENT
    # Documents the query parameters; list() validates them with the same FilterSet and
    # hands them to the selector.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ConversationFilter

    def get_base_queryset(self):
        return Conversation.objects.all()

    @extend_schema(
        summary="List conversations, latest activity first",
        description=f"Cursor-paginated; stable while new messages arrive. {LIST_ERRORS}",
    )
    def list(self, request):
        arguments = filters_validated(ConversationFilter, request.query_params)
        conversations = selectors.conversation_list(organization=self.organization, **arguments)
        page = self.paginate_queryset(conversations)
        return self.get_paginated_response(self._serialized(page, many=True))

    @extend_schema(summary="One conversation", description=READ_ERRORS)
    def retrieve(self, request, pk=None):
        return Response(self._serialized(self._conversation(pk)))

    @extend_schema(
        summary="The conversation's 24-hour window now",
        description=f"Whether free-form messages may be sent now, and until when. {READ_ERRORS}",
        responses=WindowStatusSerializer,
        examples=[
            OpenApiExample("Open", value=CONVERSATION_EXAMPLE["window"], response_only=True),
            OpenApiExample(
                "Expired",
                value={
                    **CONVERSATION_EXAMPLE["window"],
                    "state": "EXPIRED",
                    "seconds_remaining": 0,
                    "hours_remaining": 0.0,
                    "can_send_free_form": False,
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=True, methods=["get"], url_path="window-status")
    def window_status(self, request, pk=None):
        return Response(WindowStatusSerializer(window_status_now(self._conversation(pk))).data)

    @extend_schema(
        summary="Mark as read",
        description=f"Sets unread_count to 0. {WRITE_ERRORS}",
        request=None,
        examples=[_conversation_example("Read")],
    )
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        conversation = services.conversation_mark_read(conversation=self._conversation(pk))
        return Response(self._serialized(conversation))

    @extend_schema(
        summary="Mark as unread",
        description=f"Sets unread_count to at least 1 (a higher count is kept). {WRITE_ERRORS}",
        request=None,
        examples=[_conversation_example("Unread", unread_count=1)],
    )
    @action(detail=True, methods=["post"])
    def unread(self, request, pk=None):
        conversation = services.conversation_mark_unread(conversation=self._conversation(pk))
        return Response(self._serialized(conversation))

    @extend_schema(
        summary="Assign to a member, or unassign",
        description="The assignee must be an active member of the organization, else 400 "
        f"VALIDATION_ERROR with details.assignee. {WRITE_ERRORS}",
        request=AssignSerializer,
        examples=[
            OpenApiExample("Assign", value={"assignee": 7}, request_only=True),
            OpenApiExample("Unassign", value={"assignee": None}, request_only=True),
            _conversation_example("Assigned"),
        ],
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        data = validated(AssignSerializer, request.data)
        conversation = services.conversation_assign(
            conversation=self._conversation(pk), assignee_id=data["assignee"]
        )
        return Response(self._serialized(conversation))

    @extend_schema(
        summary="Change the status (open, pending, snoozed, closed)",
        description="Snoozed needs `until`, in the future; any other status rejects it, "
        "and leaving snoozed clears snoozed_until. Bad input is 400 VALIDATION_ERROR with "
        f"details.status or details.until. {WRITE_ERRORS}",
        request=StatusSerializer,
        examples=[
            OpenApiExample(
                "Snooze",
                value={"status": "snoozed", "until": "2026-11-21T09:00:00Z"},
                request_only=True,
            ),
            OpenApiExample("Close", value={"status": "closed"}, request_only=True),
            _conversation_example(
                "Snoozed", status="snoozed", snoozed_until="2026-11-21T09:00:00Z"
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        data = validated(StatusSerializer, request.data)
        conversation = services.conversation_status_set(
            conversation=self._conversation(pk), status=data["status"], until=data.get("until")
        )
        return Response(self._serialized(conversation))

    @extend_schema(
        summary="Take over from the bot",
        description="Sets bot_active to false: the channel's automated responder stops "
        "getting this conversation's messages and gets `conversation.handed_off`. Taking "
        f"over a conversation no bot is handling changes nothing. {WRITE_ERRORS}",
        request=None,
        examples=[_conversation_example("Handed off", bot_active=False)],
    )
    @action(detail=True, methods=["post"], url_path="hand-off")
    def hand_off(self, request, pk=None):
        conversation = services.conversation_hand_off(
            conversation=self._conversation(pk), by_user_id=request.user.pk
        )
        return Response(self._serialized(conversation))

    @extend_schema(
        summary="Give back to the bot",
        description="Sets bot_active to true: the customer's next messages go to the "
        f"channel's automated responder again, if it has one. {WRITE_ERRORS}",
        request=None,
        examples=[_conversation_example("Bot active")],
    )
    @action(detail=True, methods=["post"], url_path="bot-resume")
    def bot_resume(self, request, pk=None):
        conversation = services.conversation_bot_resume(conversation=self._conversation(pk))
        return Response(self._serialized(conversation))

    def _conversation(self, pk: str) -> Conversation:
        return selectors.conversation_get(
            organization=self.organization, conversation_id=url_object_id(pk)
        )

    def _serialized(self, instance, *, many: bool = False):
        # One clock for every item, so windows on a page agree with each other.
        context = {**self.get_serializer_context(), "now": timezone.now()}
        return ConversationSerializer(instance, many=many, context=context).data


class ConversationMessageViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """A conversation's messages. Anyone in the organization reads them."""

    serializer_class = MessageSerializer
    pagination_class = MessagePagination
    read_role = Role.VIEWER
    filter_backends = [DjangoFilterBackend]  # documents `order`; list() validates it
    filterset_class = MessageFilter

    def get_base_queryset(self):
        return Message.objects.all()

    @extend_schema(
        summary="List a conversation's messages",
        description="Cursor-paginated, in the order they were written (the provider's "
        f"time, then id): newest first unless order=oldest. {READ_ERRORS} "
        "400 VALIDATION_ERROR for a bad `order`.",
        parameters=[OpenApiParameter("conversation_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
    )
    def list(self, request, conversation_id=None):
        arguments = filters_validated(MessageFilter, request.query_params)
        conversation = selectors.conversation_get(
            organization=self.organization, conversation_id=url_object_id(conversation_id)
        )
        # Cursor pagination orders the rows itself; it must know the order asked for.
        self.paginator.ordering = MESSAGE_ORDERING[arguments["order"]]
        page = self.paginate_queryset(selectors.message_list(conversation=conversation))
        context = {"reactions": selectors.message_reactions(messages=page)}
        return self.get_paginated_response(MessageSerializer(page, many=True, context=context).data)


class ConsentHistoryPagination(CursorPagination):
    ordering = ("-changed_at", "-id")  # index consent_change_contact


class ContactViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    """Contacts: the organization's customers. Anyone in the organization reads them
    (their consent and its history too); admins change consent."""

    serializer_class = ContactSerializer
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    filter_backends = [DjangoFilterBackend]  # documents `q`; list() validates it
    filterset_class = ContactFilter

    def get_base_queryset(self):
        return Contact.objects.all()

    @extend_schema(
        summary="List contacts, newest first",
        description=f"Cursor-paginated. {LIST_ERRORS}",
    )
    def list(self, request):
        arguments = filters_validated(ContactFilter, request.query_params)
        contacts = selectors.contact_list(organization=self.organization, **arguments)
        page = self.paginate_queryset(contacts)
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(
        summary="One contact, with its identities and conversations",
        description=READ_ERRORS,
        responses=ContactDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        contact = selectors.contact_get(
            organization=self.organization, contact_id=url_object_id(pk)
        )
        context = {**self.get_serializer_context(), "now": timezone.now()}
        return Response(ContactDetailSerializer(contact, context=context).data)

    @extend_schema(
        summary="Forget the contact (GDPR/LGPD erasure)",
        description="Erases the contact's name, phone and identities, the contents of "
        "every message of their conversations (text, media, payloads, reactions, notes' "
        "text) and the raw webhooks that mention them; the conversations stay, without "
        "personal data, for counts. Answers with the audit record, which keeps only a "
        "keyed hash of the identifier. Asking again returns the same record (an "
        "interrupted erasure is finished). A later message from the same number creates "
        "a new contact. Needs the admin role. Errors: 401 NOT_AUTHENTICATED; 403 "
        "PERMISSION_DENIED for agents and viewers; 404 NOT_FOUND when the contact is not "
        "one of the organization's.",
        request=None,
        responses=ContactErasureSerializer,
    )
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        contact = selectors.contact_get(
            organization=self.organization, contact_id=url_object_id(pk)
        )
        erasure = contact_erase(
            organization=self.organization,
            contact_id=contact.pk,
            requested_by=request.user,
            source=ErasureSource.API,
        )
        return Response(ContactErasureSerializer(erasure).data)

    @extend_schema(
        summary="Set the contact's consent on a channel kind and scope",
        description="Recorded with source `api` and the caller in the history; setting "
        "the state in force changes nothing. Answers the contact with its consent. Needs "
        "the admin role. Errors: 400 VALIDATION_ERROR with details per field; 401 "
        "NOT_AUTHENTICATED; 403 PERMISSION_DENIED below admin; 404 NOT_FOUND.",
        request=ConsentSetSerializer,
        responses=ContactSerializer,
        examples=[
            OpenApiExample(
                "Opt out of SMS marketing",
                value={"kind": "sms", "scope": "marketing", "state": "opted_out"},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        data = validated(ConsentSetSerializer, request.data)
        contact = self._contact(pk)
        consent_set(contact=contact, **data, source=ConsentSource.API, changed_by=request.user)
        contact = self._contact(pk)  # with the consents as they are now
        return Response(ContactSerializer(contact).data)

    @extend_schema(
        summary="The contact's consent changes, newest first",
        description=f"Every change with its source, who made it and the message that "
        f"caused it (a keyword, or a refused send). Cursor-paginated. {READ_ERRORS}",
        responses=ConsentChangeSerializer(many=True),
    )
    @action(detail=True, methods=["get"], url_path="consent-history")
    def consent_history(self, request, pk=None):
        contact = self._contact(pk)
        self.paginator.ordering = ConsentHistoryPagination.ordering
        changes = ConsentChange.objects.filter(contact=contact).select_related("changed_by")
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(ConsentChangeSerializer(page, many=True).data)

    def _contact(self, pk: str):
        return selectors.contact_get(organization=self.organization, contact_id=url_object_id(pk))


class InboxCountersView(OrganizationScopedMixin, APIView):
    """What waits in the inbox, per channel and in total."""

    read_role = Role.VIEWER

    @extend_schema(
        summary="Inbox counters",
        description="open: open conversations. Among conversations that are not closed: "
        "unread, unassigned, mine (assigned to the caller), and expiring_windows (window "
        "open now, closing within the next hour). Every channel is listed, zeros "
        "included. Errors: 401 NOT_AUTHENTICATED.",
        responses=InboxCountersSerializer,
        examples=[
            OpenApiExample(
                "Counters",
                value={
                    "total": COUNTS_EXAMPLE,
                    "channels": [
                        {
                            "channel": CONVERSATION_EXAMPLE["channel"],
                            "counts": COUNTS_EXAMPLE,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        counters = selectors.inbox_counters(organization=self.organization, user=request.user)
        return Response(InboxCountersSerializer(counters).data)
