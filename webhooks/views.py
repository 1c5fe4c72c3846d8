"""Webhook endpoints: read the raw body, verify, store, acknowledge. Nothing else.

No provider API call and no domain work happens in the request: the stored event is
processed by a worker. A bad or missing signature is refused (401) and nothing is
stored; a verified body is stored before it is answered, even one we cannot parse.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from providers import Provider, whatsapp_cloud
from providers.base import PayloadError, SignedRequest, Verification, refused
from tenants.models import Channel
from tenants.selectors import (
    ChannelRoute,
    channel_webhook_route,
    channel_webhook_routes,
    channel_webhook_routes_of_waba,
)
from webhooks.metrics import webhook_refused_count
from webhooks.registry import provider_module
from webhooks.services import webhook_event_store

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
RECEIVED_JSON = b'{"status": "received"}'  # written once: every webhook gets it


class _BodyTooLargeError(Exception):
    pass


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _whatsapp_handshake(request)
    try:
        signed = _signed_request(request)
    except _BodyTooLargeError:
        return _too_large()
    route, routable = _whatsapp_route(signed)
    verification = _whatsapp_verify(signed, route)
    if not verification:
        # The route may be remembered from before the app secret was rotated.
        route, routable = _whatsapp_route(signed, fresh=True)
        verification = _whatsapp_verify(signed, route)
    if not verification:
        return _refuse(Provider.WHATSAPP_CLOUD, verification.reason)
    _store(Provider.WHATSAPP_CLOUD, route if routable else None, signed)
    return _acknowledge(Provider.WHATSAPP_CLOUD)


@csrf_exempt
@require_POST
def keyed_webhook(request: HttpRequest, provider: Provider, channel_key: str) -> HttpResponse:
    """OpenPhone, Twilio and Unipile: the channel is named by the key in the URL."""
    route = channel_webhook_route(provider=provider, key=channel_key)
    if route is None:
        # Without a channel there is no secret to check the body against, and storing
        # unverified bodies would let anyone fill the database: refuse, as for a typo.
        webhook_refused_count(provider, "unknown channel key")
        return JsonResponse({"error": "unknown webhook URL"}, status=404)
    try:
        signed = _signed_request(request)
    except _BodyTooLargeError:
        return _too_large()
    verification = _verify_any_url(provider, signed, route.secret, request)
    if not verification:
        # The route may be remembered from before the secret was rotated.
        route = channel_webhook_route(provider=provider, key=channel_key, fresh=True)
        if route is not None:
            verification = _verify_any_url(provider, signed, route.secret, request)
    if not verification:
        return _refuse(provider, verification.reason)
    _store(provider, route, signed)
    return _acknowledge(provider)


def _whatsapp_handshake(request: HttpRequest) -> HttpResponse:
    asked = whatsapp_cloud.handshake(request.GET)
    if asked is None:
        return HttpResponse("Not a subscription handshake.", status=403, content_type="text/plain")
    token, challenge = asked
    if not Channel.objects.filter(provider=Provider.WHATSAPP_CLOUD, verify_token=token).exists():
        logger.warning("WhatsApp handshake with an unknown verify token")
        return HttpResponse("Unknown verify token.", status=403, content_type="text/plain")
    return HttpResponse(challenge, content_type="text/plain")


def _whatsapp_verify(signed: SignedRequest, route: ChannelRoute | None) -> Verification:
    if route is None:
        return refused("no channel's app secret signed this body")
    return whatsapp_cloud.verify(signed, route.secret)


def _whatsapp_route(
    signed: SignedRequest, *, fresh: bool = False
) -> tuple[ChannelRoute | None, bool]:
    """The channel this payload is for, and whether it is routable.

    Normally the first phone_number_id (or, for template and account events, WABA id)
    in the payload names it. A WABA may name several channels (a business's numbers,
    or a tenant who typed another's WABA id): the one whose app secret signed the body
    is the one, so that no channel can take another's events away; the others it is
    for, if any, are found when it is applied. A payload naming no configured channel,
    or one we cannot read, is still kept if the app secret of some channel signed it:
    (that channel, not routable) for an unroutable event, (that channel, routable) for
    the failed queue to show.
    """
    try:
        keys = whatsapp_cloud.routing_keys(signed.body)
    except PayloadError:
        keys = []
    for phone_number_id, waba_id in keys:
        named = _whatsapp_named(phone_number_id, waba_id, fresh=fresh)
        if len(named) == 1:
            return named[0], True  # the caller verifies: one HMAC on the usual path
        if named:
            return _signed_by(signed, named) or named[0], True
    signer = _signed_by(signed, channel_webhook_routes(provider=Provider.WHATSAPP_CLOUD))
    return signer, not keys and signer is not None


def _whatsapp_named(phone_number_id: str, waba_id: str, *, fresh: bool) -> tuple[ChannelRoute, ...]:
    if phone_number_id:  # a number's own events: its channel only, whatever its WABA
        route = channel_webhook_route(
            provider=Provider.WHATSAPP_CLOUD, phone_number_id=phone_number_id, fresh=fresh
        )
        return (route,) if route else ()
    return channel_webhook_routes_of_waba(
        provider=Provider.WHATSAPP_CLOUD, waba_id=waba_id, fresh=fresh
    )


def _signed_by(signed: SignedRequest, routes) -> ChannelRoute | None:
    return next((route for route in routes if whatsapp_cloud.verify(signed, route.secret)), None)


def _verify_any_url(provider: Provider, signed: SignedRequest, secret: str, request: HttpRequest):
    """Twilio signs the URL it called. Behind a proxy the request may not show it, so
    the configured public URL is tried too."""
    module = provider_module(provider)
    verification = module.verify(signed, secret)
    public_url = f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}"
    if not verification and provider == Provider.TWILIO and public_url != signed.url:
        retried = module.verify(_with_url(signed, public_url), secret)
        if retried:
            return retried
    return verification


def _with_url(signed: SignedRequest, url: str) -> SignedRequest:
    return SignedRequest(
        body=signed.body,
        headers=signed.headers,
        url=url,
        form=signed.form,
        received_at=signed.received_at,
    )


def _signed_request(request: HttpRequest) -> SignedRequest:
    if int(request.META.get("CONTENT_LENGTH") or 0) > settings.WEBHOOK_MAX_BODY_BYTES:
        raise _BodyTooLargeError
    try:
        body = request.body  # the raw bytes first: signatures cover them, not parsed JSON
    except RequestDataTooBig as exc:
        raise _BodyTooLargeError from exc
    is_form = request.content_type == "application/x-www-form-urlencoded"
    return SignedRequest(
        body=body,
        headers={name.lower(): value for name, value in request.headers.items()},
        url=request.build_absolute_uri(),
        form={name: request.POST.getlist(name) for name in request.POST} if is_form else {},
        received_at=timezone.now(),
    )


def _store(provider: Provider, route: ChannelRoute | None, signed: SignedRequest) -> None:
    kept = provider_module(provider).STORED_HEADERS
    webhook_event_store(
        provider=provider,
        route=route,
        body=signed.body,
        headers={name: value for name, value in signed.headers.items() if name in kept},
        url=signed.url,
        received_at=signed.received_at,
    )


def _acknowledge(provider: Provider) -> HttpResponse:
    if provider == Provider.TWILIO:
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")
    return HttpResponse(RECEIVED_JSON, content_type="application/json")


def _refuse(provider: Provider, reason: str) -> HttpResponse:
    webhook_refused_count(provider, reason)
    logger.warning("Refused %s webhook: %s", provider, reason)
    return JsonResponse({"error": "signature verification failed"}, status=401)


def _too_large() -> HttpResponse:
    return JsonResponse(
        {"error": f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes"}, status=413
    )
