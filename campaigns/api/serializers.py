"""What the campaigns API shows and accepts. No rules here: those are in
`campaigns.editing` (campaigns, steps), `campaigns.audience` (leads) and the engine's
services (start, pause, resume, cancel, stop)."""

import zoneinfo

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.leads import MAX_ROWS, MAX_VALUE_LENGTH
from campaigns.models import (
    Campaign,
    DelayUnit,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
    StepKind,
)
from conversations.api.serializers import ChannelSummarySerializer, ContactSummarySerializer
from tenants.api.fields import IdField, MomentField

MAX_INT = 2**31 - 1  # PostgreSQL's integer
MAX_BULK = 10_000  # leads or contacts in one JSON request; more go in a CSV upload


@extend_schema_field({"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$", "example": "09:00"})
class WallClockField(serializers.TimeField):
    """A time of day on the campaign's wall clock (its time zone): "HH:MM", no offset
    (OpenAPI's `time` format would require one)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S"])
        super().__init__(**kwargs)


class OwnerSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = [
            "id",
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    channel = ChannelSummarySerializer(read_only=True)
    owner = OwnerSerializer(read_only=True, allow_null=True)
    steps = StepSerializer(many=True, read_only=True)
    send_start = WallClockField(read_only=True)
    send_end = WallClockField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "status",
            "channel",
            "owner",
            "timezone",
            "send_start",
            "send_end",
            "send_days",
            "starts_at",
            "daily_message_cap",
            "daily_invitation_cap",
            "capped_until",
            "capped_reason",
            "started_at",
            "paused_at",
            "finished_at",
            "steps",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CampaignWriteSerializer(serializers.Serializer):
    """Create: name and channel are required. Update (PATCH): any of them."""

    name = serializers.CharField(max_length=200)
    channel = IdField(help_text="One of the organization's channels.")
    owner = IdField(
        allow_null=True, required=False, help_text="A member; emailed when a lead replies."
    )
    timezone = serializers.CharField(
        max_length=64,
        allow_blank=True,
        required=False,
        help_text="IANA name, e.g. Europe/Paris. Empty: the organization's time zone.",
    )
    send_start = WallClockField(required=False, help_text="Campaign time zone.")
    send_end = WallClockField(required=False, help_text="Campaign time zone.")
    send_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        required=False,
        help_text="0 = Monday .. 6 = Sunday.",
    )
    starts_at = MomentField(allow_null=True, required=False)
    daily_message_cap = serializers.IntegerField(
        min_value=1, max_value=MAX_INT, allow_null=True, required=False
    )
    daily_invitation_cap = serializers.IntegerField(
        min_value=1, max_value=MAX_INT, allow_null=True, required=False
    )

    def validate_timezone(self, value: str) -> str:
        if value and value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Not a time zone (IANA name, e.g. Europe/Paris).")
        return value

    def validate_send_days(self, value: list[int]) -> list[int]:
        return sorted(set(value))


class StepWriteSerializer(serializers.Serializer):
    """Create: `kind` is required, `position` defaults to after the last step."""

    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)
    kind = serializers.ChoiceField(choices=StepKind.choices)
    delay_amount = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    delay_unit = serializers.ChoiceField(choices=DelayUnit.choices, required=False)
    template_name = serializers.CharField(max_length=512, allow_blank=True, required=False)
    template_language = serializers.CharField(max_length=16, allow_blank=True, required=False)
    template_parameters = serializers.DictField(
        required=False,
        help_text='Personalized send parameters, e.g. {"body": {"1": "{{first_name|there}}"}}.',
    )
    text = serializers.CharField(
        max_length=4096, allow_blank=True, required=False, trim_whitespace=False
    )
    note = serializers.CharField(max_length=300, allow_blank=True, required=False)
    timeout_amount = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    timeout_unit = serializers.ChoiceField(choices=DelayUnit.choices, required=False)


class EnrollmentSerializer(serializers.ModelSerializer):
    contact = ContactSummarySerializer(read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "contact",
            "conversation",
            "state",
            "current_position",
            "next_run_at",
            "fields",
            "wait_reason",
            "wait_until",
            "stop_reason",
            "stop_detail",
            "started_at",
            "replied_at",
            "finished_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class HistorySerializer(serializers.ModelSerializer):
    message_status = serializers.CharField(
        source="message.status", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = EnrollmentStep
        fields = ["id", "position", "step", "at", "outcome", "detail", "message", "message_status"]
        read_only_fields = fields


class EnrollmentDetailSerializer(EnrollmentSerializer):
    history = HistorySerializer(many=True, read_only=True)

    class Meta(EnrollmentSerializer.Meta):
        fields = [*EnrollmentSerializer.Meta.fields, "history"]
        read_only_fields = fields


class EnrollmentFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=EnrollmentState.choices, required=False)
    position = serializers.IntegerField(
        min_value=0, max_value=MAX_INT, required=False, help_text="The next step to run."
    )


class LeadsImportOptions(serializers.Serializer):
    default_region = serializers.CharField(
        max_length=2,
        min_length=2,
        required=False,
        allow_blank=True,
        help_text="Region of numbers written without their country code (ISO 3166, e.g. "
        "US, FR). Without it only international numbers are read.",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Report what would be imported; write nothing."
    )
    skip_invalid = serializers.BooleanField(
        default=False,
        help_text="Import the valid leads and report the lines in error. Without it, a "
        "line in error imports nothing.",
    )


class EnrollmentsAddSerializer(LeadsImportOptions):
    """Exactly one of `leads` or `contacts`."""

    leads = serializers.ListField(
        child=serializers.DictField(
            child=serializers.CharField(
                max_length=MAX_VALUE_LENGTH, allow_blank=True, allow_null=True
            )
        ),
        max_length=MAX_BULK,
        required=False,
        help_text="Objects like CSV lines: phone and/or linkedin, first_name, last_name or "
        "name, company, and any custom field.",
    )
    contacts = serializers.ListField(
        child=IdField(), max_length=MAX_BULK, required=False, help_text="Existing contact ids."
    )

    def validate(self, data: dict) -> dict:
        if ("leads" in data) == ("contacts" in data):
            raise serializers.ValidationError("Give either `leads` or `contacts`.")
        return data


class CsvImportSerializer(LeadsImportOptions):
    csv = serializers.CharField(
        trim_whitespace=False,
        help_text="The file's text (UTF-8): comma, semicolon or tab separated, a header "
        f"line, at most {MAX_ROWS} rows. The whole body is at most 5 MB by default "
        "(DATA_UPLOAD_MAX_MEMORY_SIZE); larger files: `manage.py campaign_import`.",
    )


class LineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The file's line (header: 1); 0: the file.")
    field = serializers.CharField()
    message = serializers.CharField()
    code = serializers.CharField()


class MergedSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    merged_lines = serializers.ListField(child=serializers.IntegerField())


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    imported = serializers.BooleanField(help_text="False: nothing was written.")
    rows = serializers.IntegerField()
    leads = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Lines merged into an earlier one.")
    contacts_created = serializers.IntegerField()
    contacts_found = serializers.IntegerField()
    enrolled = serializers.IntegerField()
    already_enrolled = serializers.IntegerField()
    already_enrolled_lines = serializers.ListField(child=serializers.IntegerField())
    skipped_invalid = serializers.IntegerField()
    merged = MergedSerializer(many=True)
    errors = LineErrorSerializer(many=True)
    error_count = serializers.IntegerField()


class StepProgressSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.CharField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    accepted = serializers.IntegerField()
    deferred = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    states = serializers.DictField(child=serializers.IntegerField())
    replied = serializers.IntegerField()
    accepted = serializers.IntegerField()
    opted_out = serializers.IntegerField()
    failed = serializers.IntegerField()
    waiting_for_window = serializers.IntegerField()
    waiting_for_acceptance = serializers.IntegerField()
    waiting_for_cap = serializers.IntegerField()
    capped_until = serializers.DateTimeField(allow_null=True)
    capped_reason = serializers.CharField(allow_blank=True)
    steps = StepProgressSerializer(many=True)


class PreviewMessageSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    parameters = serializers.DictField()


class PreviewEnrollmentSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField()
    contact = serializers.DictField()
    messages = PreviewMessageSerializer(many=True)


class MissingFieldsSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField()
    contact = serializers.IntegerField()
    missing = serializers.ListField(child=serializers.CharField())


class PreviewSerializer(serializers.Serializer):
    enrollments = PreviewEnrollmentSerializer(many=True)
    missing_fields = MissingFieldsSerializer(many=True)
    missing_fields_total = serializers.IntegerField()


class PreviewQuerySerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=50, default=5)
