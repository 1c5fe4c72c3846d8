"""Reads for message templates. Every function takes the caller's organization (or
reads across all of them for the sync schedule), so another tenant's rows are never
returned."""

from django.db.models import Prefetch, Q, QuerySet

from providers import Provider
from templates.models import MessageTemplate, TemplateEvent
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import SECRET_FIELDS, Channel, Organization

# Newest first; `created_at` never changes, so cursor pages stay stable (index
# template_org_created).
TEMPLATE_ORDER = ("-created_at", "-id")
EVENT_ORDER = ("-occurred_at", "-id")
_UNSHOWN_CHANNEL_FIELDS = [f"channel__{name}" for name in SECRET_FIELDS]


def template_list(
    *,
    organization: Organization,
    status: str = "",
    category: str = "",
    quality: str = "",
    language: str = "",
    channel_id: int | None = None,
    search: str = "",
    removed: bool = False,
) -> QuerySet[MessageTemplate]:
    """An organization's templates, newest first, narrowed by every filter given ("" or
    None leaves one out). Removed templates only with `removed=True`, and then only
    they."""
    conditions = [
        Q(is_deleted=removed),
        Q(status=status.upper()) if status else None,
        Q(category=category.upper()) if category else None,
        Q(quality_score=quality.upper()) if quality else None,
        Q(language=language) if language else None,
        Q(channel_id=channel_id) if channel_id is not None else None,
        Q(name__icontains=search.strip()) if search.strip() else None,
    ]
    templates = _templates(organization)
    for condition in conditions:
        if condition is not None:
            templates = templates.filter(condition)
    return templates.order_by(*TEMPLATE_ORDER)


def template_get(*, organization: Organization, template_id: int) -> MessageTemplate:
    """One template of the organization with its history, newest first; NOT_FOUND for
    anyone else's."""
    template = (
        _templates(organization)
        .prefetch_related(Prefetch("events", queryset=TemplateEvent.objects.order_by(*EVENT_ORDER)))
        .filter(pk=template_id)
        .first()
    )
    if template is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, "No such template.")
    return template


def template_sync_channels(*, organization: Organization | None = None) -> QuerySet[Channel]:
    """The channels whose templates can be synced: active WhatsApp channels, of active
    organizations, with a WABA id. All organizations' unless one is given."""
    channels = (
        Channel.objects.filter(
            provider=Provider.WHATSAPP_CLOUD, is_active=True, organization__is_active=True
        )
        .exclude(waba_id="")
        .select_related("organization")
        .order_by("id")
    )
    if organization is not None:
        channels = channels.filter(organization=organization)
    return channels


def template_channel_get(*, organization: Organization, channel_id: int) -> Channel:
    """A channel of the organization that has templates; a VALIDATION_ERROR on
    `channel` for any other id (another tenant's included)."""
    channel = template_sync_channels(organization=organization).filter(pk=channel_id).first()
    if channel is None:
        raise field_error(
            "channel",
            "Not an active WhatsApp channel of this organization with a WABA id.",
            code="no_templates",
        )
    return channel


def _templates(organization: Organization) -> QuerySet[MessageTemplate]:
    return (
        MessageTemplate.objects.filter(organization=organization)
        .select_related("channel")
        .defer(*_UNSHOWN_CHANNEL_FIELDS)
    )
