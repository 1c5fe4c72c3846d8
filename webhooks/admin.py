import json
from datetime import datetime
from urllib.parse import parse_qs

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from providers import Provider
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import (
    AMBER,
    BLUE,
    GREEN,
    GREY,
    PURPLE,
    RED,
    ago,
    badge,
    short_span,
    two_lines,
)
from tenants.models import Role
from webhooks.models import QUEUE_STATUSES, EventStatus, FailedWebhook, WebhookEvent
from webhooks.services import webhook_events_discard, webhook_events_replay

STATUS_COLOURS = {
    EventStatus.RECEIVED: GREY,
    EventStatus.PROCESSING: BLUE,
    EventStatus.PROCESSED: GREEN,
    EventStatus.FAILED: AMBER,
    EventStatus.DEAD: RED,
    EventStatus.DISCARDED: GREY,
    EventStatus.UNROUTABLE: PURPLE,
}


class WebhookEventAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER, "change": Role.ADMIN}
    # Dense enough for a 1,366 px screen: what happens next under the status, the
    # provider and organization under the channel, ages relative (exact on hover).
    list_display = ["id", "status_column", "source", "received", "attempts", "outcomes", "error"]
    list_filter = ["status", "provider", "organization", "channel", "received_at"]
    search_fields = ["refs", "last_error", "=id"]
    search_help_text = (
        "Provider message or template id, error text, event id, or what was not handled "
        '("unsupported:history", "unsupported:calls"...).'
    )
    list_select_related = ["channel", "organization"]
    date_hierarchy = "received_at"
    ordering = ["-received_at"]
    actions = ["replay_now", "discard"]
    readonly_fields = [
        "provider",
        "status_badge",
        "channel",
        "organization",
        "received_at",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "last_error_block",
        "result",
        "refs",
        "url",
        "headers_block",
        "payload",
        "dedupe_key",
    ]
    fieldsets = [
        (None, {"fields": ["status_badge", "provider", "channel", "organization", "refs"]}),
        (
            "Processing",
            {
                "fields": [
                    "received_at",
                    "attempts",
                    "next_attempt_at",
                    "processed_at",
                    "result",
                    "last_error_block",
                ]
            },
        ),
        ("Payload", {"fields": ["payload", "headers_block", "url", "dedupe_key"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # history; retention removes old events

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: WebhookEvent) -> str:
        return badge(STATUS_COLOURS.get(obj.status, GREY), status_in_words(obj))

    @admin.display(description="Status", ordering="status")
    def status_column(self, obj: WebhookEvent) -> str:
        colour = STATUS_COLOURS.get(obj.status, GREY)
        return two_lines(badge(colour, short_status(obj)), next_step(obj))

    @admin.display(description="Channel", ordering="channel__name")
    def source(self, obj: WebhookEvent) -> str:
        provider = Provider(obj.provider).short_label
        where = " · ".join(str(part) for part in (provider, obj.organization) if part)
        if obj.channel is None:
            return two_lines(format_html('<span class="sb-quiet">{}</span>', "no channel"), where)
        return two_lines(obj.channel.name, where)

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj: WebhookEvent) -> str:
        return ago(obj.received_at)

    @admin.display(description="Result")
    def outcomes(self, obj: WebhookEvent) -> str:
        """What processing did, by outcome; "unsupported:<kind>" names a webhook field
        or event type that is recorded but not handled."""
        return ", ".join(f"{name} {count}" for name, count in sorted(obj.result.items())) or "—"

    @admin.display(description="Error")
    def error(self, obj: WebhookEvent) -> str:
        """Its first line, in at most two lines of the list (all of it on hover)."""
        first_line = obj.last_error.splitlines()[0] if obj.last_error else ""
        return format_html('<div class="sb-clamp" title="{}">{}</div>', first_line, first_line)

    @admin.display(description="Last error")
    def last_error_block(self, obj: WebhookEvent) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.last_error or "—")

    @admin.display(description="Headers")
    def headers_block(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2, sort_keys=True))

    @admin.display(description="Payload (as received)")
    def payload(self, obj: WebhookEvent) -> str:
        return format_html(
            "<pre style='max-height:40em;overflow:auto'>{}</pre>", readable_body(obj)
        )

    @admin.action(description="Replay now", permissions=["change"])
    def replay_now(self, request, queryset) -> None:
        selected = queryset.count()
        replayed = webhook_events_replay(event_ids=queryset.values_list("id", flat=True))
        skipped = selected - replayed
        note = f"; {skipped} skipped (still being received or processed)" if skipped else ""
        self.message_user(request, f"Replaying {replayed} event(s){note}.", messages.SUCCESS)

    @admin.action(
        description="Discard (no processing, kept for the record)", permissions=["change"]
    )
    def discard(self, request, queryset) -> None:
        discarded = webhook_events_discard(event_ids=queryset.values_list("id", flat=True))
        self.message_user(request, f"Discarded {discarded} event(s).", messages.SUCCESS)


def short_status(event: WebhookEvent) -> str:
    """The badge's word; `next_step` says the rest."""
    return event.get_status_display().split(" (")[0]


def next_step(event: WebhookEvent, now: datetime | None = None) -> str:
    """What will happen to an event in the queue, with when, in a few words."""
    if event.status == EventStatus.FAILED:
        if event.next_attempt_at is None:  # a body that fails the same way every time
            return "will not retry: needs an operator"
        now = now or timezone.now()
        wait = (event.next_attempt_at - now).total_seconds()
        if wait < 60:  # due, or nearly: the sweep picks it up
            return "will retry now"
        return f"will retry in {short_span(wait)}"
    if event.status == EventStatus.DEAD:
        return "retries exhausted: needs an operator"
    if event.status == EventStatus.UNROUTABLE:
        return "add its channel, then replay"
    return ""


def status_in_words(event: WebhookEvent) -> str:
    """The status, and for what waits in the queue what will happen to it."""
    if event.status == EventStatus.FAILED:
        if event.next_attempt_at is None:  # a body that fails the same way every time
            return "Failed: will not retry, needs an operator"
        return "Failed: will retry"
    if event.status == EventStatus.UNROUTABLE:
        return "Unroutable: add its channel, then replay"
    return event.get_status_display()


class QueueOutcomeFilter(admin.SimpleListFilter):
    """The queue's own states, in words of what happens next."""

    title = "what happens next"
    parameter_name = "next"
    CHOICES = {
        "retry": ("Will retry", Q(status=EventStatus.FAILED, next_attempt_at__isnull=False)),
        "operator": (
            "Needs an operator",
            Q(status=EventStatus.DEAD) | Q(status=EventStatus.FAILED, next_attempt_at__isnull=True),
        ),
        "unroutable": ("No channel", Q(status=EventStatus.UNROUTABLE)),
    }

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.CHOICES.items()]

    def queryset(self, request, queryset):
        chosen = self.CHOICES.get(self.value())
        return queryset.filter(chosen[1]) if chosen else queryset


def readable_body(event: WebhookEvent) -> str:
    """JSON pretty-printed, forms as their fields, anything else as text."""
    text = event.body_text
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=False)
    except ValueError:
        pass
    if "=" in text and "\n" not in text:
        fields = parse_qs(text, keep_blank_values=True)
        if fields:
            return json.dumps(fields, indent=2, ensure_ascii=False)
    return text


admin.site.register(WebhookEvent, WebhookEventAdmin)


@admin.register(FailedWebhook)
class FailedWebhookAdmin(WebhookEventAdmin):
    # What processing did is in the event's page: a failed event has done little.
    list_display = ["id", "status_column", "source", "received", "attempts", "error"]
    # The dashboard links here with status__exact; the filter offers what operators ask.
    list_filter = [QueueOutcomeFilter, "provider", "organization", "channel"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=QUEUE_STATUSES)
