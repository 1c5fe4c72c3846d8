"""Writes for organizations, memberships and channels."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from providers import Provider
from providers.events import AccountEvent
from providers.http import ProviderError
from providers.phones import InvalidPhoneNumberError, to_e164
from tenants.alerts import admin_url, alert_send
from tenants.clients import whatsapp_client_for
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


def channel_validate(*, channel: Channel, check_credentials: bool = True) -> None:
    """Normalize the phone number and check what the provider needs; raise if invalid.

    A WhatsApp number is checked at Meta (`channel_credentials_check`) before the
    uniqueness of its id: whoever cannot read a number must not learn from our answer
    that another tenant has it. `check_credentials=False` only for the demo tenant,
    whose credentials are public fakes.
    """
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
    _validate(channel, constraints=False)
    if check_credentials:
        channel_credentials_check(channel=channel)
    if _number_taken(channel):  # the constraint's error, on its field
        raise _number_taken_error()
    _validate(channel, fields=False)


def channel_credentials_check(*, channel: Channel) -> None:
    """WhatsApp: Meta must let the channel's access token read the number it names.

    Anyone can type a phone number id, and the id routes that number's webhooks: only
    a token's holder proves the number is theirs. Asked when the number or the token is
    new (one GET to Meta); VALIDATION_ERROR if Meta refuses, PROVIDER_ERROR if Meta
    cannot be reached (nothing is saved either way).
    """
    if not _claims_number(channel):
        return
    if not channel.access_token:
        raise field_error(
            "access_token", "Required to show that Meta lets you use this number.", "required"
        )
    try:
        with whatsapp_client_for(channel) as client:
            number = client.phone_number_read()
            in_waba = channel.waba_id and client.waba_phone_number_ids(channel.waba_id)
    except ProviderError as exc:
        raise _credentials_error(channel, exc) from exc
    if str(number.get("id") or "") != channel.phone_number_id:
        raise _number_not_readable(channel, f"Meta answered for id {number.get('id')!r}")
    if channel.waba_id and channel.phone_number_id not in in_waba:
        # A WABA's template and account webhooks reach every channel naming it: only a
        # number of that WABA, seen through the channel's own token, may name it.
        raise field_error(
            "waba_id",
            f"WhatsApp Business Account {channel.waba_id} does not list phone number id "
            f"{channel.phone_number_id} for this access token. Use the WABA the number "
            "belongs to (WhatsApp Manager).",
            "not_readable",
        )


def _number_taken(channel: Channel) -> bool:
    if not channel.phone_number_id:
        return False
    return (
        Channel.objects.filter(provider=channel.provider, phone_number_id=channel.phone_number_id)
        .exclude(pk=channel.pk)
        .exists()
    )


def _number_taken_error() -> ApplicationError:
    return field_error(
        "phone_number_id", "Another channel already uses this phone number id.", "unique"
    )


def _channel_save(channel: Channel) -> None:
    """Two admins naming one number at once both pass the checks; the database's unique
    constraint stops the second, who gets the check's answer rather than an error 500.

    The checks ask Meta over HTTP, so they run before this, outside any transaction:
    no connection or row is held while Meta answers."""
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError as exc:
        if _number_taken(channel):
            raise _number_taken_error() from exc
        raise


def _claims_number(channel: Channel) -> bool:
    """Whether saving would name a WhatsApp number with credentials not yet checked."""
    if Provider(channel.provider) != Provider.WHATSAPP_CLOUD or not channel.phone_number_id:
        return False
    stored = (
        Channel.objects.filter(pk=channel.pk)
        .values_list("phone_number_id", "access_token", "waba_id")
        .first()
        if channel.pk
        else None
    )
    if stored is None:
        return True
    number_id, token, waba_id = stored
    # A token cleared on a number already checked claims nothing new.
    return (
        channel.phone_number_id != number_id
        or channel.waba_id != waba_id
        or channel.access_token not in ("", token)
    )


def _credentials_error(channel: Channel, exc: ProviderError) -> ApplicationError:
    if not exc.transient:
        return _number_not_readable(channel, exc.title)
    return ApplicationError(
        ErrorCode.PROVIDER_ERROR,
        f"Could not reach WhatsApp to check that the access token can read phone number id "
        f"{channel.phone_number_id} ({exc.title}); nothing was saved. Try again.",
        {"provider_code": exc.code, "provider_title": exc.title},
    )


def _number_not_readable(channel: Channel, reason: str) -> ApplicationError:
    message = (
        f"This access token cannot read phone number id {channel.phone_number_id} at Meta "
        f"({reason}). Use the number's id from WhatsApp Manager and a token with access "
        "to its WhatsApp Business Account."
    )
    return ApplicationError(
        ErrorCode.VALIDATION_ERROR,
        f"phone_number_id: {message}",
        {"phone_number_id": [{"message": message, "code": "not_readable"}]},
    )


def channel_create(
    *,
    organization: Organization,
    provider: Provider,
    name: str,
    check_credentials: bool = True,
    **fields: Any,
) -> Channel:
    channel = Channel(
        organization=organization,
        provider=Provider(provider),
        name=name,
        window_policy=fields.pop("window_policy", None)
        or DEFAULT_WINDOW_POLICY[Provider(provider)],
    )
    _assign(channel, fields)
    channel_validate(channel=channel, check_credentials=check_credentials)
    _channel_save(channel)
    return channel


def channel_update(*, channel: Channel, check_credentials: bool = True, **fields: Any) -> Channel:
    """Change the given fields only. A secret left out stays as it is; "" clears it."""
    _assign(channel, fields)
    channel_validate(channel=channel, check_credentials=check_credentials)
    _channel_save(channel)
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


def _validate(instance, *, fields: bool = True, constraints: bool = True) -> None:
    """The model's own validation: its fields, its unique fields and constraints."""
    try:
        if fields:
            instance.full_clean(validate_unique=False, validate_constraints=False)
        if constraints:
            instance.validate_unique()
            instance.validate_constraints()
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
        channel=channel,
        event_id=event.event_id,
        defaults={
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
