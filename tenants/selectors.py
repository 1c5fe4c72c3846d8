"""Reads for organizations, memberships and channels."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel, Membership, Organization


def membership_list(*, user: AbstractBaseUser) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user, organization__is_active=True)
        .select_related("organization")
        .order_by("organization__name")
    )


def membership_resolve(*, user: AbstractBaseUser, organization_hint: str | None) -> Membership:
    """The membership a request acts through.

    `organization_hint` (the X-Organization header) is a slug or id. Without it, a user
    with one organization uses that one. An organization the user does not belong to is
    NOT_FOUND, exactly like one that does not exist.
    """
    memberships = membership_list(user=user)
    if organization_hint:
        lookup = Q(organization__slug=organization_hint)
        if organization_hint.isdigit():
            lookup |= Q(organization_id=int(organization_hint))
        membership = memberships.filter(lookup).first()
        if membership is None:
            raise ApplicationError(ErrorCode.NOT_FOUND, "No such organization.")
        return membership
    found = list(memberships[:2])
    if not found:
        raise ApplicationError(
            ErrorCode.PERMISSION_DENIED, "You are not a member of any active organization."
        )
    if len(found) > 1:
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            "You belong to several organizations: send X-Organization: <slug>.",
            {"organizations": [m.organization.slug for m in memberships]},
        )
    return found[0]


def channel_list(*, organization: Organization) -> QuerySet[Channel]:
    return Channel.objects.filter(organization=organization).order_by("-created_at", "-id")
