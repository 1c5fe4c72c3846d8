"""Event subscriptions and their deliveries, for support staff.

A subscription's secret is shown once: in the message after it is created or rotated,
never on a page. Deliveries are a record (read-only) with the request sent and the
answer; "Replay" sends the selected ones again: filter a subscription's deliveries by
date (the date bar, or created_at in the filters), "select all", Replay, to replay a
time range.
"""

import json
from datetime import UTC

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from integrations.bots import MAX_WAIT_LIMIT, QUIET_BOUNDS, responder_validate
from integrations.models import Delivery, DeliveryStatus, Subscription
from integrations.subscriptions import (
    deliveries_replay,
    event_types_validate,
    subscription_create,
    subscription_rotate_secret,
    subscription_send_test,
    subscription_update,
    url_validate,
)
from outbox.types import EVENT_TYPES
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import (
    AMBER,
    BLUE,
    GREEN,
    GREY,
    RED,
    HistoryAdminMixin,
    ago,
    badge,
    short_span,
)
from tenants.errors import ApplicationError
from tenants.models import Role

STATUS_COLOURS = {
    DeliveryStatus.PENDING: AMBER,
    DeliveryStatus.SENDING: BLUE,
    DeliveryStatus.SUCCEEDED: GREEN,
    DeliveryStatus.DEAD: RED,
}
ADMINS_ONLY = {"view": Role.ADMIN, "add": Role.ADMIN, "change": Role.ADMIN, "delete": Role.ADMIN}


def _wake_sender() -> None:
    from integrations.tasks import deliveries_send_task

    transaction.on_commit(deliveries_send_task.delay)


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES],
        # Laid out in columns (tenants/admin.css): one narrow column broke the names.
        widget=forms.CheckboxSelectMultiple(attrs={"class": "sb-choice-columns"}),
    )
    # Left empty: kept as they are (3 and 20 s for a new one).
    burst_quiet_seconds = forms.IntegerField(
        required=False,
        min_value=QUIET_BOUNDS[0],
        max_value=QUIET_BOUNDS[1],
        help_text="Responders: send the burst once the customer was quiet this long.",
    )
    burst_max_wait_seconds = forms.IntegerField(
        required=False,
        min_value=QUIET_BOUNDS[0],
        max_value=MAX_WAIT_LIMIT,
        help_text="Responders: ... or this long after its first message at most.",
    )

    class Meta:
        model = Subscription
        fields = [
            "organization",
            "name",
            "url",
            "event_types",
            "channel",
            "enabled",
            "responder",
            "burst_quiet_seconds",
            "burst_max_wait_seconds",
        ]
        labels = {"url": "URL"}
        # Receivers' URLs are long (paths with tokens): the admin's default 26em cut
        # them off mid-word.
        widgets = {"url": forms.URLInput(attrs={"class": "vURLField", "style": "width: 40em"})}

    def clean(self):
        cleaned = super().clean()
        self._responder_check(cleaned)
        checks = (("url", url_validate), ("event_types", event_types_validate))
        for name, check in checks:
            if name in cleaned:
                try:
                    cleaned[name] = check(cleaned[name])
                except ApplicationError as exc:
                    self.add_error(name, exc.details[name][0]["message"])
        channel, organization = cleaned.get("channel"), cleaned.get("organization")
        if channel and organization and channel.organization_id != organization.pk:
            self.add_error("channel", "Not one of this organization's channels.")
        return cleaned

    def _responder_check(self, cleaned: dict) -> None:
        """The service's checks, shown on their fields (the model's own constraints
        would only say which constraint failed)."""
        for name in ("burst_quiet_seconds", "burst_max_wait_seconds"):
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = getattr(self.instance, name)
        probe = Subscription(
            pk=self.instance.pk,
            channel=cleaned.get("channel"),
            enabled=cleaned.get("enabled", True),
            responder=cleaned.get("responder", False),
            burst_quiet_seconds=cleaned.get("burst_quiet_seconds") or 0,
            burst_max_wait_seconds=cleaned.get("burst_max_wait_seconds") or 0,
        )
        try:
            responder_validate(subscription=probe)
        except ApplicationError as exc:
            for name, errors in exc.details.items():
                self.add_error(name if name in self.fields else None, errors[0]["message"])


@admin.register(Subscription)
class SubscriptionAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = ADMINS_ONLY
    form = SubscriptionForm
    list_display = [
        "subscription",
        "organization",
        "state",
        "responder",
        "deliveries_link",
    ]
    list_filter = ["enabled", "responder", "organization"]
    search_fields = ["name", "url"]
    list_select_related = ["organization"]
    readonly_fields = ["state", "deliveries_link", "secret_rotation", "created_at"]
    actions = ["send_test", "rotate_secret", "enable", "disable"]

    def get_readonly_fields(self, request, obj=None):
        # The organization is chosen once; the rest of the rows follow it.
        return [*self.readonly_fields, "organization"] if obj else self.readonly_fields

    @admin.display(description="Subscription", ordering="name")
    def subscription(self, obj: Subscription) -> str:
        # One column: the name (when it has one) over the URL, instead of the URL twice.
        if not obj.name:
            return obj.url
        return format_html("<strong>{}</strong><br><small>{}</small>", obj.name, obj.url)

    @admin.display(description="State")
    def state(self, obj: Subscription) -> str:
        if not obj.enabled:
            return badge(GREY, f"disabled: {obj.disabled_reason}" if obj.disabled_reason else "off")
        if obj.failing_since:
            return badge(RED, f"failing since {obj.failing_since:%Y-%m-%d %H:%M}")
        return badge(GREEN, "enabled")

    @admin.display(description="Deliveries")
    def deliveries_link(self, obj: Subscription) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:integrations_delivery_changelist")
        return format_html('<a href="{}?subscription__id__exact={}">deliveries</a>', url, obj.pk)

    @admin.display(description="Secret")
    def secret_rotation(self, obj: Subscription) -> str:
        expires = obj.previous_secret_expires_at
        if expires:
            return (
                f"whsec_… (rotated; the previous one signs too until {expires:%Y-%m-%d %H:%M} UTC)"
            )
        return "whsec_… (shown once, when created or rotated)"

    def save_model(self, request, obj, form, change):
        fields = SubscriptionForm.Meta.fields
        data = {name: form.cleaned_data[name] for name in fields if name in form.cleaned_data}
        if change:
            subscription_update(
                subscription=obj, **{k: v for k, v in data.items() if k != "organization"}
            )
            return
        created = subscription_create(**data)
        obj.pk = created.pk
        self._show_secret(request, created, created.secret, "created")

    def _show_secret(self, request, subscription, secret: str, done: str) -> None:
        self.message_user(
            request,
            f"Subscription {subscription} {done}. Its signing secret, shown only now: {secret}",
            messages.WARNING,
        )

    @admin.action(description="Send a test event (test.ping)", permissions=["change"])
    def send_test(self, request, queryset):
        for subscription in queryset:
            subscription_send_test(subscription=subscription)
        _wake_sender()
        self.message_user(request, f"Test event queued for {queryset.count()} subscription(s).")

    @admin.action(description="Rotate secret (old one valid 24 h)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for subscription in queryset:
            secret = subscription_rotate_secret(subscription=subscription)
            self._show_secret(request, subscription, secret, "has a new secret")

    @admin.action(description="Enable (from now on)", permissions=["change"])
    def enable(self, request, queryset):
        for subscription in queryset:
            subscription_update(subscription=subscription, enabled=True)
        self.message_user(request, f"Enabled {queryset.count()} subscription(s).")

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request, queryset):
        for subscription in queryset:
            subscription_update(subscription=subscription, enabled=False)
        self.message_user(request, f"Disabled {queryset.count()} subscription(s).")


@admin.register(Delivery)
class DeliveryAdmin(OrganizationScopedAdmin, HistoryAdminMixin, admin.ModelAdmin):
    member_roles = {"view": Role.ADMIN, "change": Role.ADMIN}
    list_display = [
        "id",
        "subscription",
        "event",
        "status_badge",
        "attempts",
        "http_status",
        "latency",
        "next_attempt",
        "created",
    ]
    list_filter = ["status", "event_type", "subscription", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["webhook_id", "=event_id", "=conversation_id"]
    list_select_related = ["subscription"]
    show_full_result_count = False
    actions = ["replay"]
    fields = [
        "subscription",
        "event_type",
        "event_id",
        "conversation_id",
        "webhook_id",
        "status_badge",
        "attempts",
        "next_attempt",
        "last_attempt_at",
        "response_status",
        "latency",
        "error",
        "request_headers_pretty",
        "payload_pretty",
        "response_excerpt",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_replay_permission(self, request) -> bool:
        return self._member_may(request, "change", None)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Delivery) -> str:
        return badge(STATUS_COLOURS.get(obj.status, GREY), obj.get_status_display())

    @admin.display(description="Event type", ordering="event_type")
    def event(self, obj: Delivery) -> str:
        # A line break allowed after each dot: "campaign.enrollment.completed" is one
        # long word that would otherwise set the column's width.
        parts = obj.event_type.split(".")
        return format_html_join(mark_safe(".<wbr>"), "{}", ((part,) for part in parts))

    @admin.display(description="HTTP", ordering="response_status")
    def http_status(self, obj: Delivery) -> str:
        return "—" if obj.response_status is None else str(obj.response_status)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Delivery) -> str:
        return ago(obj.created_at)

    @admin.display(description="Latency", ordering="latency_ms")
    def latency(self, obj: Delivery) -> str:
        return "—" if obj.latency_ms is None else f"{obj.latency_ms} ms"

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj: Delivery) -> str:
        if obj.status != DeliveryStatus.PENDING:
            return "—"
        # Relative, the exact time on hover: the list is read for "how long until".
        seconds = (obj.next_attempt_at - timezone.now()).total_seconds()
        return format_html(
            '<span title="{}">{}</span>',
            f"{obj.next_attempt_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
            "due" if seconds < 1 else f"in {short_span(seconds)}",
        )

    @admin.display(description="Request headers")
    def request_headers_pretty(self, obj: Delivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.request_headers, indent=2))

    @admin.display(description="Request body")
    def payload_pretty(self, obj: Delivery) -> str:
        try:
            text = json.dumps(json.loads(obj.payload), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.payload
        return format_html("<pre>{}</pre>", text)

    @admin.action(description="Replay (send again, same webhook-id)", permissions=["replay"])
    def replay(self, request, queryset):
        replayed = deliveries_replay(deliveries=Delivery.objects.filter(pk__in=queryset))
        _wake_sender()
        self.message_user(request, f"{replayed.count} deliverie(s) queued again.", messages.SUCCESS)
