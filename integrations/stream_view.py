"""GET /api/v1/stream: the caller's organization's events as Server-Sent Events.

Served by the ASGI server (uvicorn): an open stream is a coroutine waiting on a queue,
not a worker. The caller authenticates as everywhere in the API (token or session,
X-Organization when they belong to several); each event is sent with `id:` its outbox
position, so a client that reconnects with `Last-Event-ID` (browsers do it by
themselves) first gets what it missed, from the outbox, then the live feed.

The hand-over from replay to live: the client subscribes to the hub first, at the
hub's position H (every event after H will be put on its queue), then replays from
the outbox the events after its Last-Event-ID up to H, then reads its queue. Reading
order is one total order (outbox.readers.Position), and every event is sent only if
it comes after the last one sent, so nothing is sent twice even when the client's
Last-Event-ID is ahead of this process (it last read from a faster one).
"""

import asyncio

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from integrations.stream import Hub, Subscriber, sse_frame, stream_hub
from outbox.readers import Position, events_read, position_now
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Membership, Role
from tenants.selectors import membership_resolve

HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 3_000  # how long a browser waits before it reconnects


@require_GET
async def stream_view(request: HttpRequest):
    try:
        hub = stream_hub()
        membership = await hub.database(_caller, request=request)
        resume = _last_event_id(request)
        if resume is not None and resume > await hub.database(position_now):
            raise ApplicationError(
                ErrorCode.VALIDATION_ERROR,
                "Last-Event-ID is ahead of the stream.",
                {"Last-Event-ID": ["Not a position this stream has reached."]},
            )
    except ApplicationError as error:
        return _error(error)
    role = Role(membership.role)
    subscriber, live_from = await hub.subscribe(
        organization_id=membership.organization_id, role=role
    )
    response = StreamingHttpResponse(
        _events(hub, subscriber, resume=resume, live_from=live_from),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: send each event as it comes
    return response


def _caller(*, request: HttpRequest) -> Membership:
    """The membership the request acts through, authenticated as the API does (DRF's
    views are synchronous; this runs in the hub's database threads)."""
    drf_request = Request(request, authenticators=[TokenAuthentication(), SessionAuthentication()])
    try:
        user = drf_request.user
    except AuthenticationFailed as error:
        raise ApplicationError(ErrorCode.NOT_AUTHENTICATED, str(error.detail)) from error
    if not user or not user.is_authenticated:
        raise ApplicationError(
            ErrorCode.NOT_AUTHENTICATED, "Authentication credentials were not provided."
        )
    return membership_resolve(user=user, organization_hint=request.headers.get("X-Organization"))


def _last_event_id(request: HttpRequest) -> Position | None:
    # The query parameter: for clients that cannot set headers on their first connect.
    token = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    if not token:
        return None
    try:
        return Position.parse(token)
    except ValueError as error:
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            "Last-Event-ID is not an id this stream sent.",
            {"Last-Event-ID": [str(error)]},
        ) from error


def _error(error: ApplicationError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    if error.code == ErrorCode.NOT_AUTHENTICATED:
        response["WWW-Authenticate"] = "Token"
    return response


async def _events(hub: Hub, subscriber: Subscriber, *, resume: Position | None, live_from):
    try:
        # The id sets the browser's resume point before any event: a reconnect after
        # a quiet spell misses nothing either.
        yield f"retry: {RETRY_MILLISECONDS}\nid: {(resume or live_from).token}\n\n"
        last = resume or live_from
        if resume is not None:
            async for position, frame in _replay(hub, subscriber, after=resume, until=live_from):
                yield frame
                last = position
        async for position, frame in _live(subscriber):
            if frame is None:
                yield ": heartbeat\n\n"
            elif position > last:
                yield frame
                last = position
        yield ": too far behind; reconnect with Last-Event-ID\n\n"
    finally:
        hub.unsubscribe(subscriber)


async def _replay(hub: Hub, subscriber: Subscriber, *, after: Position, until: Position):
    """The organization's events after `after` up to `until` (where its live feed
    begins), from the outbox."""
    while after < until:
        page = await hub.database(
            events_read, after=after, organization_id=subscriber.organization_id
        )
        for event in page.events:
            if event.position > until:
                return
            if subscriber.may_see(event.type):
                yield event.position, sse_frame(event)
        if not page.events:
            return
        after = page.position


async def _live(subscriber: Subscriber):
    """Queued events, or (None, None) for a heartbeat after a quiet spell; ends when
    the subscriber was dropped for lagging and its queue is drained."""
    while not (subscriber.dropped and subscriber.queue.empty()):
        try:
            yield await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            yield None, None
