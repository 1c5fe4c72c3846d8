"""The admin shows each person only the organizations they belong to.

Superusers (the platform's operators) see everything. Everyone else is a member of
some organizations with a role in each, and every admin page built on
`OrganizationScopedAdmin` narrows what it lists, opens, offers as a choice, filters by
and acts on to those organizations:
- lists, search, change and history pages: `get_queryset` (an object of another
  organization is a 404, never a page that confirms it exists);
- foreign-key choices and autocompletes: the related model scoped the same way;
- list filters on relations: only the values the scoped list holds;
- actions: only the selected objects of organizations where the role allows changing.

Roles carry into the admin without anyone handing out Django permissions: a model's
admin says which role each of view/add/change/delete needs (`member_roles`), and
`config.permissions.MembershipPermissions` grants a member exactly those. Admins of
models that are not ours (schedules, task results, users, tokens) are for superusers
only: config.apps wraps them with `SuperuserOnlyAdmin`.

Each model reaches its organization along one path of foreign keys, found from its
fields (`organization_path`), so a new admin needs nothing but the base class.
"""

from functools import cache

from django.contrib.admin import RelatedOnlyFieldListFilter
from django.db.models import Model, QuerySet
from django.http import Http404

from tenants.models import Membership, Organization, Role

ROLES_ATTRIBUTE = "_switchboard_member_roles"
# Relations followed, in this order, when a model has no organization of its own. A
# campaign's enrollment reaches it through its campaign, never its (optional) conversation.
PARENT_FIELDS = (
    "campaign",
    "enrollment",
    "channel",
    "conversation",
    "contact",
    "template",
    "webhook",
    "run",
)


@cache
def organization_path(model: type[Model]) -> str | None:
    """The lookup from `model` to its organization's id, or None if it has none."""
    if issubclass(model, Organization):
        return "pk"
    relations = {
        field.name: field
        for field in model._meta.get_fields()
        if field.many_to_one or (field.one_to_one and field.concrete)
    }
    if "organization" in relations:
        return "organization"
    for name in PARENT_FIELDS:
        if name in relations:
            parent = organization_path(relations[name].related_model)
            if parent:
                return f"{name}__{'id' if parent == 'pk' else parent}"
    return None


def member_roles(request) -> dict[int, Role]:
    """The signed-in person's role in each of their organizations, read once a request."""
    roles = getattr(request, ROLES_ATTRIBUTE, None)
    if roles is None:
        roles = roles_of(request.user)
        setattr(request, ROLES_ATTRIBUTE, roles)
    return roles


def roles_of(user) -> dict[int, Role]:
    if not user.is_authenticated:
        return {}
    memberships = Membership.objects.filter(user=user, organization__is_active=True)
    return {
        org_id: Role(role) for org_id, role in memberships.values_list("organization_id", "role")
    }


def organizations_allowing(request, role: Role) -> list[int]:
    return [org_id for org_id, held in member_roles(request).items() if held.allows(role)]


def scope(queryset: QuerySet, request, role: Role = Role.VIEWER) -> QuerySet:
    """`queryset` narrowed to the organizations where the person holds `role`."""
    if request.user.is_superuser:
        return queryset
    path = organization_path(queryset.model)
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": organizations_allowing(request, role)})


def organization_id_of(obj: Model) -> int | None:
    """Follows the organization path on the loaded object (its parents are cached by
    the admin's select_related where it matters)."""
    path = organization_path(type(obj))
    if path is None:
        return None
    if path == "pk":
        return obj.pk
    *parents, last = path.split("__")
    for name in parents:
        obj = getattr(obj, name)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id" if last != "id" else "id")


class OrganizationScopedAdmin:
    """Base of every ModelAdmin of ours (put it before admin.ModelAdmin)."""

    # The role a member needs in an object's organization for each permission. A
    # permission not listed is for superusers only.
    member_roles: dict[str, Role] = {
        "view": Role.VIEWER,
        "add": Role.ADMIN,
        "change": Role.ADMIN,
    }

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and not request.user.is_superuser:
            raise Http404  # not "doesn't exist, perhaps it was deleted?": that confirms ids
        return obj

    def _member_may(self, request, permission: str, obj) -> bool:
        if request.user.is_superuser:
            return True
        needed = self.member_roles.get(permission)
        if needed is None:
            return False
        held = member_roles(request)
        if obj is None:
            return any(role.allows(needed) for role in held.values())
        role = held.get(organization_id_of(obj))
        return role is not None and role.allows(needed)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) and (
            self._member_may(request, "view", obj) or self._member_may(request, "change", obj)
        )

    def has_add_permission(self, request, *args) -> bool:
        return super().has_add_permission(request, *args) and self._member_may(request, "add", None)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._member_may(
            request, "change", obj
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._member_may(
            request, "delete", obj
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            # Choices where the person may put something: where they may change.
            formfield.queryset = scope(formfield.queryset, request, self._change_role())
        return formfield

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [self._scoped_filter(entry) for entry in filters]

    def _scoped_filter(self, entry):
        # A filter over a relation offers every row of the related table by default;
        # RelatedOnlyFieldListFilter offers those the (scoped) list holds.
        if not isinstance(entry, str):
            return entry
        model = self.model
        for part in entry.split("__"):
            field = model._meta.get_field(part)
            if not field.is_relation:
                return entry
            model = field.related_model
        return (entry, RelatedOnlyFieldListFilter)

    def response_action(self, request, queryset):
        return super().response_action(request, scope(queryset, request, self._change_role()))

    def _change_role(self) -> Role:
        return self.member_roles.get("change", Role.ADMIN)


class SuperuserOnlyAdmin:
    """For admins of models that belong to no organization: the platform's own."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)
