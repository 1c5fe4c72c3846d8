"""What every organization-scoped API view is built on.

`OrganizationScopedMixin` resolves the caller's membership once per request (from the
X-Organization header, or the user's only organization), checks the role the method
needs, and filters every queryset to that organization. Views never call
`Model.objects` themselves: they name a base queryset and let the mixin scope it, so a
forgotten filter cannot leak another tenant's rows.
"""

from functools import cached_property

from django.db.models import QuerySet
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from tenants.errors import ApplicationError, ErrorCode
from tenants.ids import ID_PATTERN, object_id
from tenants.models import Membership, Organization, Role
from tenants.selectors import membership_resolve


class HasOrganizationRole(BasePermission):
    """Reads need the view's `read_role`; writes its `write_role` (or per action)."""

    def has_permission(self, request, view) -> bool:
        required = view.required_role(request)
        return Role(view.membership.role).allows(required)


class OrganizationScopedMixin:
    permission_classes = [IsAuthenticated, HasOrganizationRole]
    read_role: Role = Role.VIEWER
    write_role: Role = Role.ADMIN
    # Per-action overrides, e.g. {"assign": Role.AGENT}.
    action_roles: dict[str, Role] = {}
    organization_field = "organization"
    # A URL id is ASCII digits; anything else ("1.5", "²") matches no route: 404.
    lookup_value_regex = ID_PATTERN

    @cached_property
    def membership(self) -> Membership:
        return membership_resolve(
            user=self.request.user,
            organization_hint=self.request.headers.get("X-Organization"),
        )

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    def required_role(self, request) -> Role:
        action = getattr(self, "action", None)
        if action in self.action_roles:
            return self.action_roles[action]
        return self.read_role if request.method in SAFE_METHODS else self.write_role

    def get_base_queryset(self) -> QuerySet:
        raise NotImplementedError("Organization-scoped views name their base queryset.")

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return self.get_base_queryset().none()
        return self.get_base_queryset().filter(**{self.organization_field: self.organization})


def validated(serializer_class, data) -> dict:
    """The input checked by a serializer; 400 VALIDATION_ERROR with field details."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def url_object_id(value) -> int:
    """A URL's id; anything but an id names nothing (404, like an unknown id)."""
    found = object_id(value)
    if found is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, "Not found.")
    return found
