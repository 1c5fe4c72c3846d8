from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from providers import Provider
from tenants import services
from tenants.admin_channel import (
    ChannelAdminForm,
    chosen_provider,
    provider_choices,
    provider_fields,
)
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import two_lines
from tenants.models import Channel, ChannelEvent, Membership, Organization, Role

admin.site.site_header = "Switchboard operations"
admin.site.site_title = "Switchboard"
admin.site.index_title = "Operations"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ChannelInline(admin.TabularInline):
    model = Channel
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["name", "provider", "display_phone_number", "is_active"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ChannelEventInline(admin.TabularInline):
    """What the provider said about this account or number: history, read-only."""

    model = ChannelEvent
    extra = 0
    ordering = ["-occurred_at"]
    fields = ["occurred_at", "kind", "event", "details"]
    readonly_fields = fields
    can_delete = False
    max_num = 0
    verbose_name_plural = "provider account events"


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER, "change": Role.ADMIN}
    list_display = ["name", "slug", "timezone", "member_count", "channel_count", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, ChannelInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=Count("memberships", distinct=True),
                channel_count=Count("channels", distinct=True),
            )
        )

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj) -> int:
        return obj.member_count

    @admin.display(description="Channels", ordering="channel_count")
    def channel_count(self, obj) -> int:
        return obj.channel_count


@admin.register(Channel)
class ChannelAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["channel", "organization", "is_active", "credentials"]
    list_display_links = None  # the channel's name links to its page; its number does not
    list_filter = ["provider", "is_active", "window_policy", "organization"]
    search_fields = [
        "name",
        "display_phone_number",
        "phone_number_id",
        "waba_id",
        "account_id",
        "key",
        "organization__name",
    ]
    list_select_related = ["organization"]
    readonly_fields = [
        "provider_name",
        "webhook_setup",
        "webhook_url_only",
        "key",
        "credentials",
        "created_at",
        "updated_at",
    ]
    actions = ["deactivate", "activate"]
    inlines = [ChannelEventInline]

    def add_view(self, request, form_url="", extra_context=None):
        """First the provider, then a form of that provider's fields only."""
        if chosen_provider(request.GET.get("provider")) is None:
            return self.provider_choice_view(request)
        return super().add_view(request, form_url, extra_context)

    def provider_choice_view(self, request) -> TemplateResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add channel: which provider?",
            "providers": provider_choices(),
        }
        return TemplateResponse(request, "admin/tenants/channel/choose_provider.html", context)

    def provider_of(self, request, obj: Channel | None) -> Provider:
        if obj is not None:
            return Provider(obj.provider)
        return chosen_provider(request.GET.get("provider")) or Provider.WHATSAPP_CLOUD

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"provider": self.provider_of(request, obj)})

    def get_fieldsets(self, request, obj=None):
        account, secrets = provider_fields(self.provider_of(request, obj))
        if obj is None:  # nothing stored yet: no key, credentials or history to show
            return [
                (
                    None,
                    {
                        "fields": [
                            "organization",
                            "provider_name",
                            "name",
                            "is_active",
                            "keyword_replies",
                        ]
                    },
                ),
                ("Provider account", {"fields": account}),
                ("Credentials (encrypted; never shown)", {"fields": secrets}),
            ]
        return [
            (
                None,
                {
                    "fields": [
                        "organization",
                        "provider_name",
                        "name",
                        "is_active",
                        "keyword_replies",
                    ]
                },
            ),
            ("Provider account", {"fields": account}),
            ("Webhook", {"fields": [self._webhook_field(request, obj), "key"]}),
            (
                "Credentials (encrypted; never shown)",
                {"fields": ["credentials", *secrets, "clear_secrets"]},
            ),
            ("History", {"fields": ["created_at", "updated_at"]}),
        ]

    def _webhook_field(self, request, obj: Channel) -> str:
        """The verify token is a secret of the channel's admins (as in the API): others
        see the webhook URL only."""
        return "webhook_setup" if self.has_change_permission(request, obj) else "webhook_url_only"

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(description="Provider")
    def provider_name(self, obj: Channel) -> str:
        label = Provider(obj.provider).label
        if obj.pk:
            return label  # fixed once saved: its webhooks and conversations depend on it
        return format_html('{} (<a href="?">choose another</a>)', label)

    @admin.display(description="Channel", ordering="name")
    def channel(self, obj: Channel) -> str:
        url = reverse("admin:tenants_channel_change", args=[obj.pk])
        where = " · ".join(filter(None, [obj.get_provider_display(), obj.display_phone_number]))
        return two_lines(format_html('<a href="{}">{}</a>', url, obj.name), where)

    @admin.display(description="Credentials stored")
    def credentials(self, obj: Channel) -> str:
        stored = obj.secrets_set if obj.pk else []
        if not stored:
            return "none"
        return format_html_join(
            ", ", '<span class="sb-nowrap">{} ••••</span>', ((n.replace("_", " "),) for n in stored)
        )

    @admin.display(description="Webhook set-up")
    def webhook_setup(self, obj: Channel) -> str:
        if not obj.pk:
            return "Shown once the channel is saved."
        rows = [("Webhook URL", obj.webhook_url)]
        if obj.provider == "whatsapp_cloud":
            rows.append(("Verify token", obj.verify_token))
        return format_html(
            "<p>Paste into the provider's dashboard:</p><table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", rows),
        )

    @admin.display(description="Webhook set-up")
    def webhook_url_only(self, obj: Channel) -> str:
        return obj.webhook_url if obj.pk else "—"

    @admin.action(description="Deactivate selected channels", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        self._set_active(request, queryset, is_active=False)

    @admin.action(description="Activate selected channels", permissions=["change"])
    def activate(self, request, queryset) -> None:
        self._set_active(request, queryset, is_active=True)

    def _set_active(self, request, queryset, *, is_active: bool) -> None:
        changed = [
            services.channel_set_active(channel=channel, is_active=is_active)
            for channel in queryset
            if channel.is_active != is_active
        ]
        verb = "activated" if is_active else "deactivated"
        self.message_user(
            request,
            f"{len(changed)} channel(s) {verb}; {queryset.count() - len(changed)} already were.",
            messages.SUCCESS,
        )
