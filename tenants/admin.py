from copy import copy

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from providers import Provider
from tenants import services
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import (
    ACCOUNT_FIELDS,
    DEFAULT_WINDOW_POLICY,
    SECRET_FIELDS,
    Channel,
    ChannelEvent,
    Membership,
    Organization,
    Role,
    WindowPolicy,
)

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


class ChannelAdminForm(forms.ModelForm):
    """Secrets are typed in but never rendered back: the page source holds no secret.

    An empty secret box keeps the stored value; tick "clear" to remove one.
    """

    clear_secrets = forms.MultipleChoiceField(
        choices=[(name, name.replace("_", " ")) for name in SECRET_FIELDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Remove these stored secrets.",
    )
    window_policy = forms.ChoiceField(
        choices=[("", "The provider's default"), *WindowPolicy.choices],
        required=False,
        help_text="WhatsApp: Meta's rule; SMS and LinkedIn: always open.",
    )
    api_base_url = forms.URLField(
        label="API base URL",
        required=False,
        assume_scheme="https",
        help_text=Channel._meta.get_field("api_base_url").help_text,
    )

    class Meta:
        model = Channel
        fields = ["organization", "provider", "name", "is_active", *ACCOUNT_FIELDS, *SECRET_FIELDS]
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("window_policy") and cleaned.get("provider"):
            cleaned["window_policy"] = DEFAULT_WINDOW_POLICY[Provider(cleaned["provider"])]
        for name in SECRET_FIELDS:
            if name in cleaned.get("clear_secrets", []):
                cleaned[name] = ""
            elif not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name)
        self._check_provider_requirements(cleaned)
        return cleaned

    def _check_provider_requirements(self, cleaned: dict) -> None:
        if not cleaned.get("provider") or not cleaned.get("organization"):
            return
        candidate = copy(self.instance)
        for field, value in cleaned.items():
            if field in self._meta.fields:
                setattr(candidate, field, value)
        try:
            # Also reads a WhatsApp number at Meta with the token: see the service.
            services.channel_validate(channel=candidate)
        except ApplicationError as exc:
            self._add_errors(exc)
            return
        cleaned["display_phone_number"] = candidate.display_phone_number

    def _add_errors(self, exc: ApplicationError) -> None:
        if exc.code != ErrorCode.VALIDATION_ERROR:  # e.g. Meta could not be reached
            self.add_error(None, exc.message)
            return
        for field, errors in exc.details.items():
            target = field if field in self.fields else None
            for error in errors:
                self.add_error(target, error["message"])


@admin.register(Channel)
class ChannelAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = [
        "name",
        "organization",
        "provider",
        "display_phone_number",
        "is_active",
        "credentials",
    ]
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
        "webhook_setup",
        "webhook_url_only",
        "key",
        "credentials",
        "created_at",
        "updated_at",
    ]
    actions = ["deactivate", "activate"]
    inlines = [ChannelEventInline]
    fieldsets = [
        (None, {"fields": ["organization", "provider", "name", "is_active"]}),
        ("Provider account", {"fields": ACCOUNT_FIELDS}),
        ("Webhook", {"fields": ["webhook_setup", "key"]}),
        (
            "Credentials (encrypted; never shown)",
            {"fields": ["credentials", *SECRET_FIELDS, "clear_secrets"]},
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="Credentials stored")
    def credentials(self, obj: Channel) -> str:
        stored = obj.secrets_set if obj.pk else []
        if not stored:
            return "none"
        return ", ".join(f"{name.replace('_', ' ')} ••••" for name in stored)

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

    def get_fieldsets(self, request, obj=None):
        """The verify token is a secret of the channel's admins (as in the API): others
        see the webhook URL only."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": _replace(options["fields"])})
            for name, options in fieldsets
        ]

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


def _replace(fields):
    return ["webhook_url_only" if field == "webhook_setup" else field for field in fields]
