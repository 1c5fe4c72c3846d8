"""Writes an operator makes to a campaign and its steps (the API and the admin).

The rules where the issue is silent:
- A campaign's channel is one of its organization's, active or not (a paused channel
  is refused at send time, not here); it cannot change once the campaign has left
  draft: its enrollments were found on that channel.
- Steps fit the channel: WhatsApp templates on WhatsApp, invitations and waiting for
  acceptance on LinkedIn (Unipile); text on any.
- A finished campaign (completed, cancelled) is not edited. A running one is: a step's
  edit applies to every enrollment that has not reached it (steps are read when run).
- Only a draft campaign is deleted; one that has sent is cancelled instead, and keeps
  its history.
"""

from datetime import time
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Max

from campaigns.models import Campaign, CampaignStatus, Step, StepKind
from providers import Provider
from tenants.errors import ApplicationError, ErrorCode, field_error, from_django_validation_error
from tenants.models import Channel, Organization

FINISHED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
CAMPAIGN_FIELDS = (
    "name",
    "channel",
    "owner",
    "timezone",
    "send_start",
    "send_end",
    "send_days",
    "starts_at",
    "daily_message_cap",
    "daily_invitation_cap",
)
STEP_FIELDS = (
    "position",
    "kind",
    "delay_amount",
    "delay_unit",
    "template_name",
    "template_language",
    "template_parameters",
    "text",
    "note",
    "timeout_amount",
    "timeout_unit",
)
_KIND_NAMES = {
    StepKind.WHATSAPP_TEMPLATE: "WhatsApp template",
    StepKind.TEXT: "text",
    StepKind.LINKEDIN_INVITATION: "LinkedIn invitation",
    StepKind.WAIT_FOR_ACCEPTANCE: "wait-for-acceptance",
}
_KINDS_ON = {
    StepKind.WHATSAPP_TEMPLATE: {Provider.WHATSAPP_CLOUD},
    StepKind.LINKEDIN_INVITATION: {Provider.UNIPILE},
    StepKind.WAIT_FOR_ACCEPTANCE: {Provider.UNIPILE},
}


def campaign_create(*, organization: Organization, **data: Any) -> Campaign:
    campaign = Campaign(organization=organization)
    _assign(campaign, data, CAMPAIGN_FIELDS)
    _check_campaign(campaign)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, **data: Any) -> Campaign:
    locked = _locked(campaign)
    _check_editable(locked)
    if "channel" in data and data["channel"].pk != locked.channel_id:
        if locked.status != CampaignStatus.DRAFT:
            raise field_error("channel", "Only a draft campaign changes channel.", "not_draft")
        if locked.steps.exclude(kind=StepKind.TEXT).exists() or locked.enrollments.exists():
            raise field_error(
                "channel", "Remove its steps and leads first: they were made for the channel."
            )
    _assign(locked, data, CAMPAIGN_FIELDS)
    _check_campaign(locked)
    locked.save()
    return locked


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    locked = _locked(campaign)
    if locked.status != CampaignStatus.DRAFT:
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            "Only a draft campaign is deleted; cancel this one instead (its history stays).",
            {"status": [{"message": "Not a draft.", "code": "not_draft"}]},
        )
    locked.delete()


@transaction.atomic
def step_create(*, campaign: Campaign, **data: Any) -> Step:
    locked = _locked(campaign)
    _check_editable(locked)
    step = Step(campaign=locked)
    _assign(step, data, STEP_FIELDS)
    if step.position is None:
        last = locked.steps.aggregate(last=Max("position"))["last"]
        step.position = 1 if last is None else last + 1
    _check_step(step, locked)
    step.save()
    return step


@transaction.atomic
def step_update(*, step: Step, **data: Any) -> Step:
    campaign = _locked(step.campaign)
    _check_editable(campaign)
    locked = Step.objects.select_for_update().get(pk=step.pk)
    _assign(locked, data, STEP_FIELDS)
    _check_step(locked, campaign)
    locked.save()
    return locked


@transaction.atomic
def step_delete(*, step: Step) -> None:
    campaign = _locked(step.campaign)
    _check_editable(campaign)
    step.delete()  # history keeps its rows (step set to null, position kept)


def campaign_check(*, campaign: Campaign) -> None:
    """The rules of a campaign as edited (the admin's form asks before saving)."""
    _check_campaign(campaign)


@transaction.atomic
def campaign_save(*, campaign: Campaign) -> Campaign:
    """Save a campaign edited as a whole (the admin's form): the same rules as
    campaign_create / campaign_update, the status left as stored."""
    if campaign.pk is None:
        campaign.status = CampaignStatus.DRAFT
    else:
        stored = _locked(campaign)
        _check_editable(stored)
        if stored.channel_id != campaign.channel_id and stored.status != CampaignStatus.DRAFT:
            raise field_error("channel", "Only a draft campaign changes channel.", "not_draft")
        campaign.status = stored.status  # the actions change it, never the form
    _check_campaign(campaign)
    campaign.save()
    return campaign


def step_check(*, step: Step, campaign: Campaign) -> None:
    _check_step(step, campaign)


@transaction.atomic
def step_save(*, step: Step) -> Step:
    """Save a step edited as a whole (the admin's inline)."""
    campaign = _locked(step.campaign)
    _check_editable(campaign)
    _check_step(step, campaign)
    step.save()
    return step


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("channel", "organization")
        .get(pk=campaign.pk)
    )


def _check_editable(campaign: Campaign) -> None:
    if campaign.status in FINISHED:
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR,
            f"A {campaign.get_status_display().lower()} campaign is not edited.",
            {"status": [{"message": "The campaign is finished.", "code": "finished"}]},
        )


def _assign(instance, data: dict, allowed: tuple[str, ...]) -> None:
    for name, value in data.items():
        if name in allowed:
            setattr(instance, name, value)


def _check_campaign(campaign: Campaign) -> None:
    channel: Channel = campaign.channel
    if channel.organization_id != campaign.organization_id:
        raise field_error("channel", "Not a channel of this organization.", "does_not_exist")
    if (
        campaign.owner_id
        and not campaign.owner.memberships.filter(organization_id=campaign.organization_id).exists()
    ):
        raise field_error("owner", "Not a member of this organization.", "not_a_member")
    _check_days(campaign.send_days)
    start, end = campaign.send_start, campaign.send_end
    if isinstance(start, time) and isinstance(end, time) and not start < end:
        raise field_error("send_end", "Sending hours must end after they start (same day).")
    _full_clean(campaign, exclude=["organization", "channel", "owner"])


def _check_days(days) -> None:
    valid = (
        isinstance(days, list)
        and days
        and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days)
    )
    if not valid:
        raise field_error("send_days", "A list of weekday numbers, 0 = Monday .. 6 = Sunday.")


def _check_step(step: Step, campaign: Campaign) -> None:
    providers = _KINDS_ON.get(step.kind)
    if providers and campaign.channel.provider not in providers:
        raise field_error(
            "kind",
            f"A {_KIND_NAMES.get(step.kind, step.kind)} step needs a "
            f"{' or '.join(Provider(p).label for p in providers)} channel.",
            "wrong_channel",
        )
    required = {
        StepKind.WHATSAPP_TEMPLATE: ("template_name", "template_language"),
        StepKind.TEXT: ("text",),
    }.get(step.kind, ())
    for name in required:
        if not str(getattr(step, name) or "").strip():
            raise field_error(name, f"A {_KIND_NAMES.get(step.kind)} step needs it.", "required")
    if not isinstance(step.template_parameters, dict):
        raise field_error("template_parameters", 'An object, e.g. {"body": {"1": "..."}}.')
    if step.kind == StepKind.WAIT_FOR_ACCEPTANCE and step.timeout_amount == 0:
        raise field_error("timeout_amount", "How long to wait before giving up.", "required")
    clash = Step.objects.filter(campaign_id=campaign.pk, position=step.position).exclude(pk=step.pk)
    if campaign.pk and clash.exists():
        raise field_error("position", f"Step {step.position} exists already.", "unique")
    _full_clean(step, exclude=["campaign"])


def _full_clean(instance, exclude: list[str]) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except DjangoValidationError as exc:
        raise from_django_validation_error(exc) from exc
