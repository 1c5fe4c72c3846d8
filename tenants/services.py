"""Writes for organizations, memberships and channels."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from providers import Provider
from providers.events import AccountEvent
from providers.phones import InvalidPhoneNumberError, to_e164
from tenants.alerts import admin_url, alert_send
from tenants.errors import (
    ApplicationError,
    ErrorCode,
    field_error,
    from_django_validation_error,
)
from tenants.models import (
    ACCOUNT_FIELDS,
    DEFAULT_WINDOW_POLICY,
    SECRET_FIELDS,
    WEBHOOK_SECRET_FIELD,
    Channel,
    ChannelEvent,
    Membership,
    Organization,
    Role,
)

# What a channel cannot work without: the id its webhooks are routed by and the secret
# they are verified with. Everything else can be added later.
_ROUTED_BY = {Provider.WHATSAPP_CLOUD: ("phone_number_id",)}  # others: by the URL's key
REQUIRED_BY_PROVIDER = {
    provider: (*_ROUTED_BY.get(provider, ()), secret_field)
    for provider, secret_field in WEBHOOK_SECRET_FIELD.items()
}

CHANNEL_EDITABLE_FIELDS = ("name", *ACCOUNT_FIELDS, *SECRET_FIELDS)


def organization_create(
    *, name: str, slug: str, timezone: str = "UTC", alert_emails: list[str] | None = None
) -> Organization:
    organization = Organization(
        name=name, slug=slug, timezone=timezone, alert_emails=", ".join(alert_emails or [])
    )
    _validate(organization)
    organization.save()
    return organization


def membership_set(*, organization: Organization, user: AbstractBaseUser, role: Role) -> Membership:
    """Make `user` a member of `organization` with `role` (adding or changing it)."""
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": Role(role)}
    )
    return membership


def channel_validate(*, channel: Channel) -> None:
    """Normalize the phone number and check what the provider needs; raise if invalid."""
    if channel.display_phone_number:
        try:
            channel.display_phone_number = to_e164(
                channel.display_phone_number, default_region=settings.DEFAULT_PHONE_REGION
            )
        except InvalidPhoneNumberError as exc:
            raise field_error("display_phone_number", str(exc)) from exc
    missing = [
        field
        for field in REQUIRED_BY_PROVIDER[Provider(channel.provider)]
        if not getattr(channel, field)
    ]
    if missing:
        label = Provider(channel.provider).label
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            f"{label} channels need {', '.join(missing)}.",
            {
                f: [{"message": f"Required for {label} channels.", "code": "required"}]
                for f in missing
            },
        )
    _validate(channel)


@transaction.atomic
def channel_create(
    *, organization: Organization, provider: Provider, name: str, **fields: Any
) -> Channel:
    channel = Channel(
        organization=organization,
        provider=Provider(provider),
        name=name,
        window_policy=fields.pop("window_policy", None)
        or DEFAULT_WINDOW_POLICY[Provider(provider)],
    )
    _assign(channel, fields)
    channel_validate(channel=channel)
    channel.save()
    return channel


@transaction.atomic
def channel_update(*, channel: Channel, **fields: Any) -> Channel:
    """Change the given fields only. A secret left out stays as it is; "" clears it."""
    _assign(channel, fields)
    channel_validate(channel=channel)
    channel.save()
    return channel


def channel_set_active(*, channel: Channel, is_active: bool) -> Channel:
    """Deactivate (or reactivate) a channel. Nothing is deleted: its history stays."""
    channel.is_active = is_active
    channel.save(update_fields=["is_active", "updated_at"])
    return channel


def _assign(channel: Channel, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(CHANNEL_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable on a channel: {sorted(unknown)}")
    for field, value in fields.items():
        setattr(channel, field, "" if value is None else value)


def _validate(instance) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise from_django_validation_error(exc) from exc


def channel_account_user_id_learn(*, channel: Channel, user_id: str) -> bool:
    """Keep the account's own id at its provider the first time a webhook names it
    (Unipile: account_info.user_id); one set by hand is never overwritten. True if
    it was learnt now."""
    learnt = Channel.objects.filter(pk=channel.pk, account_user_id="").update(
        account_user_id=user_id[:255], updated_at=timezone.now()
    )
    if learnt:
        channel.account_user_id = user_id[:255]
    return bool(learnt)


def channel_event_record(*, channel: Channel, event: AccountEvent) -> str:
    """Keep an account/number event once, and alert the organization when it means
    sends will fail. Returns "created" or "duplicate"."""
    record, created = ChannelEvent.objects.get_or_create(
        event_id=event.event_id,
        defaults={
            "channel": channel,
            "kind": event.kind,
            "event": event.event,
            "details": event.details,
            "occurred_at": event.occurred_at,
        },
    )
    problem = _account_problem(event)
    if created and problem:
        transaction.on_commit(lambda: _alert_account_problem(channel, record, problem))
    return "created" if created else "duplicate"


# A number Meta reports in one of these states, or rated red, cannot be relied on.
_NUMBER_PROBLEM_STATUSES = {"FLAGGED", "RESTRICTED", "BANNED", "DISCONNECTED", "RATE_LIMITED"}


def _account_problem(event: AccountEvent) -> str:
    """Why an account event needs a person, or "" if it does not."""
    if event.kind == "phone_number_status":
        return _number_problem(event.details)
    if event.event == "ACCOUNT_RESTRICTION":
        restrictions = {
            item.get("restriction_type", "")
            for item in event.details.get("restriction_info") or []
            if isinstance(item, dict)
        }
        if "RESTRICTED_BIZ_INITIATED_MESSAGING" in restrictions:
            return "business-initiated messages (templates) are restricted: their sends will fail"
        return "the account is restricted: " + ", ".join(sorted(restrictions))
    return {
        "DISABLED_UPDATE": "the account is disabled or scheduled to be",
        "ACCOUNT_VIOLATION": "the account has a policy violation",
    }.get(event.event, "")


def _number_problem(details: dict) -> str:
    status, quality = str(details.get("status", "")), str(details.get("quality_rating", ""))
    if status.upper() in _NUMBER_PROBLEM_STATUSES:
        return f"the number's status is {status}"
    if quality.upper() == "RED":
        return "the number's quality rating is red"
    return ""


def _alert_account_problem(channel: Channel, record: ChannelEvent, problem: str) -> None:
    alert_send(
        organization=channel.organization,
        subject=f"{channel.name}: {problem}",
        body=(
            f"{channel.get_provider_display()} reported {record.kind} {record.event} for "
            f"{channel.name} at {record.occurred_at:%Y-%m-%d %H:%M} UTC: {problem}.\n\n"
            f"Details: {record.details}\n\n"
            f"Channel: {admin_url('admin:tenants_channel_change', channel.pk)}\n"
        ),
    )
