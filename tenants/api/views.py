from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants import services
from tenants.api.base import OrganizationScopedMixin
from tenants.api.serializers import (
    ChannelCreateSerializer,
    ChannelSerializer,
    ChannelWriteSerializer,
    MeSerializer,
)
from tenants.errors import ErrorCode
from tenants.models import Channel, Role
from tenants.selectors import membership_list


class MeView(APIView):
    """The caller, and the organizations they belong to with their role in each."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        data = {"user": request.user, "organizations": membership_list(user=request.user)}
        return Response(MeSerializer(data).data)


class ChannelViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Provider channels. Everyone in the organization reads; admins manage them."""

    serializer_class = ChannelSerializer
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    filterset_fields = ["provider", "is_active"]
    # Naming a WhatsApp number asks Meta whether the token can read it (502 when Meta
    # cannot be reached). For the schema's per-operation error list.
    error_codes = {
        "create": (ErrorCode.PROVIDER_ERROR,),
        "partial_update": (ErrorCode.PROVIDER_ERROR,),
    }

    def get_base_queryset(self):
        return Channel.objects.order_by("-created_at", "-id")

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            context["role"] = self.membership.role
        return context

    def _shown(self, channel: Channel) -> dict:
        return ChannelSerializer(channel, context=self.get_serializer_context()).data

    @extend_schema(request=ChannelCreateSerializer, responses={201: ChannelSerializer})
    def create(self, request):
        data = _validated(ChannelCreateSerializer, request.data)
        channel = services.channel_create(organization=self.organization, **data)
        return Response(self._shown(channel), status=status.HTTP_201_CREATED)

    @extend_schema(request=ChannelWriteSerializer, responses=ChannelSerializer)
    def partial_update(self, request, pk=None):
        data = _validated(ChannelWriteSerializer, request.data)
        channel = services.channel_update(channel=self.get_object(), **data)
        return Response(self._shown(channel))

    @extend_schema(request=None, responses=ChannelSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        channel = services.channel_set_active(channel=self.get_object(), is_active=False)
        return Response(self._shown(channel))

    @extend_schema(request=None, responses=ChannelSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        channel = services.channel_set_active(channel=self.get_object(), is_active=True)
        return Response(self._shown(channel))


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
