"""Reads for organizations, memberships and channels."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q, QuerySet

from providers import Provider
from tenants.errors import ApplicationError, ErrorCode
from tenants.fields import decrypt
from tenants.ids import object_id
from tenants.models import WEBHOOK_SECRET_FIELD, Channel, Membership


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
        if (hinted_id := object_id(organization_hint)) is not None:
            lookup |= Q(organization_id=hinted_id)
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


@dataclass(frozen=True)
class ChannelRoute:
    """What a webhook request needs to know of its channel: whom it belongs to and the
    secret its webhooks are verified with (decrypted)."""

    id: int
    organization_id: int
    key: str
    secret: str


def channel_webhook_route(
    *,
    provider: Provider,
    key: str = "",
    phone_number_id: str = "",
    fresh: bool = False,
) -> ChannelRoute | None:
    """The channel a webhook is for: by URL key, or (WhatsApp) by phone_number_id. Each
    names one channel at most (both are unique)."""
    if key:
        routes = _cached_routes(provider, "key", key, fresh=fresh)
    elif phone_number_id:
        routes = _cached_routes(provider, "phone_number_id", phone_number_id, fresh=fresh)
    else:
        return None
    return routes[0] if routes else None


def channel_webhook_routes_of_waba(
    *, provider: Provider, waba_id: str, fresh: bool = False
) -> tuple[ChannelRoute, ...]:
    """Every channel naming this WhatsApp Business Account, oldest first.

    Not unique: a business's numbers share their WABA, and nothing stops a tenant from
    typing another's WABA id. Which of them an event is for, the signature tells.
    """
    if not waba_id:
        return ()
    return _cached_routes(provider, "waba_id", waba_id, fresh=fresh)


def _cached_routes(
    provider: Provider, column: str, value: str, *, fresh: bool
) -> tuple[ChannelRoute, ...]:
    """Every webhook request asks, so found routes are remembered by this process for
    WEBHOOK_ROUTE_CACHE_SECONDS. A cached route can be stale (a secret rotated in
    another process): callers whose signature check fails ask again with `fresh=True`.
    Written in SQL because the ORM's query building cost more than the query itself
    (measured: bench/ingest.py)."""
    cache_key = (str(provider), column, value)
    if not fresh and (routes := _route_cache.get(cache_key)) is not None:
        return routes
    routes = tuple(_routes(provider, f"AND {column} = %s ORDER BY id", [value]))
    if routes:
        _route_cache.put(cache_key, routes)
    return routes


class _RouteCache:
    """Webhook routes this process looked up lately, each for a few seconds."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str, str], tuple[float, tuple[ChannelRoute, ...]]] = {}

    def get(self, key: tuple[str, str, str]) -> tuple[ChannelRoute, ...] | None:
        found = self._routes.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: tuple[str, str, str], routes: tuple[ChannelRoute, ...]) -> None:
        self._routes[key] = (time.monotonic() + settings.WEBHOOK_ROUTE_CACHE_SECONDS, routes)

    def clear(self) -> None:
        self._routes.clear()


_route_cache = _RouteCache()


def channel_webhook_routes_forget() -> None:
    """Forget cached routes (a channel was saved or deleted in this process)."""
    _route_cache.clear()


def channel_webhook_routes(*, provider: Provider) -> list[ChannelRoute]:
    """Every channel of a provider that can verify webhooks: for a payload that names
    no known channel, to find out whether one of ours signed it at all."""
    return [route for route in _routes(provider, "ORDER BY id", []) if route.secret]


def _routes(provider: Provider, tail: str, params: list) -> list[ChannelRoute]:
    secret_column = Channel._meta.get_field(WEBHOOK_SECRET_FIELD[Provider(provider)]).column
    sql = (
        f"SELECT id, organization_id, key, {secret_column} "  # noqa: S608 - names from the model
        f"FROM {Channel._meta.db_table} WHERE provider = %s {tail}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [provider, *params])
        rows = cursor.fetchall()
    return [
        ChannelRoute(
            id=id_, organization_id=org_id, key=key, secret=decrypt(secret) if secret else ""
        )
        for id_, org_id, key, secret in rows
    ]


def channel_named(hint: str, *, through: str = "") -> Q:
    """The channel an operator names on a command line: its id, or its webhook key.
    `through` reaches it from another model (e.g. "channel__")."""
    named = Q(**{f"{through}key": hint})
    if (hinted_id := object_id(hint)) is not None:
        named |= Q(**{f"{through}pk": hinted_id})
    return named
