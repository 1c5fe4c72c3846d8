"""Event subscriptions and their deliveries.

Admins only, reads included: a subscription names where the organization's events go,
and a delivery holds every event's body (messages' text of every conversation), which
is more than an agent or viewer is shown elsewhere. Another organization's subscription
or delivery is NOT_FOUND.
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from conversations.api.filters import filters_validated
from integrations import selectors, subscriptions
from integrations.api.filters import DeliveryFilter
from integrations.api.serializers import (
    DeliverySerializer,
    ReplayedSerializer,
    ReplayRangeSerializer,
    SubscriptionSerializer,
    SubscriptionWithSecretSerializer,
    SubscriptionWriteSerializer,
)
from integrations.models import Delivery, Subscription
from tenants.api.base import OrganizationScopedMixin, url_object_id, validated
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel, Role

ERRORS = "Needs the admin role. Errors: 401 NOT_AUTHENTICATED; 403 PERMISSION_DENIED; "
WRITE_ERRORS = (
    f"{ERRORS}400 VALIDATION_ERROR (details.url: not https, or resolves to a private, "
    "loopback or link-local address; details.event_types; details.channel; "
    "details.responder: no channel, or the channel has a responder already; "
    "details.burst_quiet_seconds, details.burst_max_wait_seconds)."
)


def _wake_sender() -> None:
    from integrations.tasks import deliveries_send_task

    transaction.on_commit(deliveries_send_task.delay)


class SubscriptionViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = SubscriptionSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    def get_base_queryset(self):
        return Subscription.objects.order_by("-created_at", "-id")

    def _subscription(self, pk) -> Subscription:
        found = self.get_queryset().filter(pk=url_object_id(pk)).first()
        if found is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such subscription.")
        return found

    def _channel(self, data: dict) -> dict:
        if "channel" not in data:
            return data
        channel_id = data.pop("channel")
        channel = None
        if channel_id is not None:
            channel = Channel.objects.filter(organization=self.organization, pk=channel_id).first()
            if channel is None:
                raise field_error("channel", "Not one of this organization's channels.")
        return {**data, "channel": channel}

    @extend_schema(summary="List event subscriptions", description=f"{ERRORS}.")
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SubscriptionSerializer(page, many=True).data)

    @extend_schema(summary="One event subscription", description=f"{ERRORS}404 NOT_FOUND.")
    def retrieve(self, request, pk=None):
        return Response(SubscriptionSerializer(self._subscription(pk)).data)

    @extend_schema(
        summary="Create an event subscription (its secret is in this answer only)",
        description=f"Receives the events that happen from now on. {WRITE_ERRORS}",
        request=SubscriptionWriteSerializer,
        responses={201: SubscriptionWithSecretSerializer},
        examples=[
            OpenApiExample(
                "Messages to a CRM",
                value={
                    "url": "https://crm.example.com/switchboard",
                    "event_types": ["message.received", "message.status_changed"],
                },
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = self._channel(validated(SubscriptionWriteSerializer, request.data))
        subscription = subscriptions.subscription_create(organization=self.organization, **data)
        return Response(
            SubscriptionWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Change an event subscription",
        description="Enabling a disabled one delivers what happens from then on (not what "
        f"happened while it was off); its pending deliveries resume. {WRITE_ERRORS}",
        request=SubscriptionWriteSerializer,
    )
    def partial_update(self, request, pk=None):
        serializer = SubscriptionWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = self._channel(dict(serializer.validated_data))
        subscription = subscriptions.subscription_update(
            subscription=self._subscription(pk), **data
        )
        return Response(SubscriptionSerializer(subscription).data)

    @extend_schema(
        summary="Delete an event subscription and its deliveries",
        description=f"{ERRORS}404 NOT_FOUND.",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        subscriptions.subscription_delete(subscription=self._subscription(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the signing secret (the new one is in this answer only)",
        description="For 24 hours deliveries carry two signatures, with the old and the "
        f"new secret, so the receiver can switch at its pace. {ERRORS}404 NOT_FOUND.",
        request=None,
        responses=SubscriptionWithSecretSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        subscription = self._subscription(pk)
        subscriptions.subscription_rotate_secret(subscription=subscription)
        return Response(SubscriptionWithSecretSerializer(subscription).data)

    @extend_schema(
        summary="Send a test event (test.ping) to this subscription",
        description=f"Queued at once; follow it in the deliveries. {ERRORS}404 NOT_FOUND.",
        request=None,
        responses={202: DeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = subscriptions.subscription_send_test(subscription=self._subscription(pk))
        _wake_sender()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Replay the subscription's deliveries created in a time range",
        description="Each is sent again from its first attempt, with the same webhook-id, "
        f"in order per conversation. {ERRORS}400 VALIDATION_ERROR; 404 NOT_FOUND.",
        request=ReplayRangeSerializer,
        responses={202: ReplayedSerializer},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        data = validated(ReplayRangeSerializer, request.data)
        replayed = subscriptions.subscription_replay_range(
            subscription=self._subscription(pk), since=data["since"], until=data["until"]
        )
        _wake_sender()
        return Response({"replayed": replayed.count}, status=status.HTTP_202_ACCEPTED)


class DeliveryViewSet(OrganizationScopedMixin, viewsets.GenericViewSet):
    serializer_class = DeliverySerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filterset_class = DeliveryFilter

    def get_base_queryset(self):
        return Delivery.objects.all()

    @extend_schema(
        summary="List deliveries, newest first",
        description=f"{ERRORS}400 VALIDATION_ERROR on a filter.",
    )
    def list(self, request):
        arguments = filters_validated(DeliveryFilter, request.query_params)
        deliveries = selectors.delivery_list(organization=self.organization, **arguments)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(summary="One delivery", description=f"{ERRORS}404 NOT_FOUND.")
    def retrieve(self, request, pk=None):
        return Response(DeliverySerializer(self._delivery(pk)).data)

    @extend_schema(
        summary="Replay one delivery",
        description="Sent again from its first attempt, same webhook-id (one being sent "
        f"right now is left alone). {ERRORS}404 NOT_FOUND.",
        request=None,
        responses={202: ReplayedSerializer},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        delivery = self._delivery(pk)
        replayed = subscriptions.deliveries_replay(
            deliveries=Delivery.objects.filter(pk=delivery.pk)
        )
        _wake_sender()
        return Response({"replayed": replayed.count}, status=status.HTTP_202_ACCEPTED)

    def _delivery(self, pk) -> Delivery:
        found = self.get_queryset().filter(pk=url_object_id(pk)).first()
        if found is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such delivery.")
        return found
