"""Campaigns in the admin: a campaign's page with its steps inline, its progress panel
and its Start/Pause/Resume/Cancel buttons; its audience upload (campaigns.admin_pages);
and each enrollment with its timeline.

Saves go through `campaigns.editing` (the API's rules) and the status through the
engine's services, never a form: a form save would overwrite a status the scheduler or
another person changed in between.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from campaigns import editing, services
from campaigns.admin_pages import CampaignPages
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
)
from tenants.admin_scope import OrganizationScopedAdmin, organizations_allowing
from tenants.admin_ui import AMBER, BLUE, GREEN, GREY, PURPLE, RED, ago, badge, two_lines
from tenants.errors import ApplicationError
from tenants.models import Role

STATUS_COLOURS = {
    CampaignStatus.DRAFT: GREY,
    CampaignStatus.SCHEDULED: BLUE,
    CampaignStatus.RUNNING: GREEN,
    CampaignStatus.PAUSED: AMBER,
    CampaignStatus.COMPLETED: PURPLE,
    CampaignStatus.CANCELLED: GREY,
}
STATE_COLOURS = {
    EnrollmentState.PENDING: GREY,
    EnrollmentState.ACTIVE: GREEN,
    EnrollmentState.WAITING: AMBER,
    EnrollmentState.REPLIED: BLUE,
    EnrollmentState.ACCEPTED: BLUE,
    EnrollmentState.COMPLETED: PURPLE,
    EnrollmentState.OPTED_OUT: RED,
    EnrollmentState.FAILED: RED,
    EnrollmentState.STOPPED: GREY,
}


def _as_form_errors(form: forms.ModelForm, error: ApplicationError) -> None:
    """A service's refusal on the form, next to the field it names."""
    fields = [name for name in error.details if name in form.fields]
    if not fields:
        form.add_error(None, error.message)
    for name in fields:
        for problem in error.details[name]:
            form.add_error(name, problem["message"] if isinstance(problem, dict) else problem)


WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class CampaignForm(forms.ModelForm):
    # Ticked days, stored as the model's list of weekday numbers (0 = Monday).
    send_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "weekdays"}),
        help_text="The days steps are sent and working days are counted on.",
    )

    class Meta:
        model = Campaign
        fields = ["organization", *editing.CAMPAIGN_FIELDS]

    def _post_clean(self):
        super()._post_clean()  # the instance now holds the form's values
        if self.errors or not getattr(self.instance, "channel_id", None):
            return
        if not self.instance.organization_id:
            return
        try:
            editing.campaign_check(campaign=self.instance)
        except ApplicationError as error:
            _as_form_errors(self, error)


class StepForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = list(editing.STEP_FIELDS)

    def _post_clean(self):
        super()._post_clean()
        # The campaign as edited on the same page (on the add page, not saved yet).
        parent = self.fields.get("campaign")
        campaign = getattr(parent, "parent_instance", None)
        if self.errors or campaign is None or not campaign.channel_id or not self.has_changed():
            return
        try:
            editing.step_check(step=self.instance, campaign=campaign)
        except ApplicationError as error:
            _as_form_errors(self, error)


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    extra = 0
    ordering = ["position"]
    fields = [
        ("position", "kind"),
        ("delay_amount", "delay_unit"),
        "text",
        ("template_name", "template_language"),
        "template_parameters",
        "note",
        ("timeout_amount", "timeout_unit"),
    ]

    # Steps are the campaign's: whoever may change the campaign changes them, until it
    # is finished (history then refers to them).
    def _may_change(self, request, obj) -> bool:
        campaign_admin = admin.site._registry[Campaign]
        editable = obj is None or obj.status not in editing.FINISHED
        return editable and campaign_admin.has_change_permission(request, obj)

    def has_view_permission(self, request, obj=None) -> bool:
        return admin.site._registry[Campaign].has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return self._may_change(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._may_change(request, obj)


@admin.register(Campaign)
class CampaignAdmin(CampaignPages, OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER, "add": Role.ADMIN, "change": Role.ADMIN}
    form = CampaignForm
    inlines = [StepInline]
    list_display = ["campaign", "status_badge", "enrolled", "started", "created"]

    class Media:
        css = {"all": ["campaigns/campaign.css"]}

    list_filter = ["status", "channel", "organization"]
    list_select_related = ["channel", "organization"]
    search_fields = ["name"]
    ordering = ["-created_at", "-id"]
    actions = ["start", "pause", "resume", "cancel"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "channel", "owner", "status_badge"]}),
        (
            "Calendar",
            {"fields": ["timezone", ("send_start", "send_end"), "send_days", "starts_at"]},
        ),
        (
            "Daily caps (on top of the channel's)",
            {"fields": [("daily_message_cap", "daily_invitation_cap"), "capped"]},
        ),
        ("Lifecycle", {"fields": [("started_at", "paused_at", "finished_at")]}),
    ]
    readonly_fields = ["status_badge", "capped", "started_at", "paused_at", "finished_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("organization")  # its channel, leads and history are there
            if obj.status != CampaignStatus.DRAFT:
                fields.append("channel")
            if obj.status in editing.FINISHED:
                return [name for _, options in self.fieldsets for name in _flat(options)]
        return fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(enrollment_count=Count("enrollments"))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner" and not request.user.is_superuser:
            # Users belong to no organization of their own: the members of the
            # organizations where this person manages campaigns (the save checks the
            # campaign's own organization).
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(
                    memberships__organization_id__in=organizations_allowing(request, Role.ADMIN)
                )
                .distinct()
                .order_by("username")
            )
            return db_field.formfield(**kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        editing.campaign_save(campaign=obj)  # form._post_clean checked the same rules

    def save_formset(self, request, form, formset, change) -> None:
        steps = formset.save(commit=False)
        for step in formset.deleted_objects:
            editing.step_delete(step=step)
        for step in steps:
            step.campaign = form.instance
            editing.step_save(step=step)

    @admin.display(description="Campaign", ordering="name")
    def campaign(self, obj: Campaign) -> str:
        return two_lines(obj.name, f"{obj.channel.name} · {obj.organization.name}")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Campaign) -> str:
        return badge(STATUS_COLOURS.get(obj.status, GREY), obj.get_status_display())

    @admin.display(description="Leads", ordering="enrollment_count")
    def enrolled(self, obj: Campaign) -> str:
        url = reverse("admin:campaigns_enrollment_changelist")
        return format_html('<a href="{}?campaign__id__exact={}">{}</a>', url, obj.pk,
                           obj.enrollment_count)  # fmt: skip

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj: Campaign) -> str:
        return ago(obj.started_at)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Campaign) -> str:
        return ago(obj.created_at)

    @admin.display(description="Daily cap reached")
    def capped(self, obj: Campaign) -> str:
        if not obj.capped_until:
            return "—"
        return f"{obj.capped_reason} (until {obj.capped_until:%d %b %Y %H:%M} UTC)"

    @admin.action(description="Start", permissions=["change"])
    def start(self, request, queryset) -> None:
        self._run(request, queryset, services.campaign_start, "Started")

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request, queryset) -> None:
        self._run(request, queryset, services.campaign_pause, "Paused")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset) -> None:
        self._run(request, queryset, services.campaign_resume, "Resumed")

    @admin.action(description="Cancel (stops every lead still to run)", permissions=["change"])
    def cancel(self, request, queryset) -> None:
        self._run(request, queryset, services.campaign_cancel, "Cancelled")

    def _run(self, request, queryset, service, done: str) -> None:
        changed, refused = [], []
        for campaign in queryset:
            try:
                service(campaign=campaign)
            except ApplicationError as error:
                refused.append(f"{campaign.name}: {error.message}")
            else:
                changed.append(campaign.name)
        if changed:
            self.message_user(request, f"{done}: {', '.join(changed)}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not done. {line}", messages.ERROR)


def _flat(options: dict) -> list[str]:
    names = []
    for entry in options["fields"]:
        names.extend(entry if isinstance(entry, tuple) else [entry])
    return names


class TimelineInline(admin.TabularInline):
    """An enrollment's history: each step run, deferral, refusal, with its message."""

    model = EnrollmentStep
    extra = 0
    can_delete = False
    ordering = ["at", "id"]
    fields = ["at", "position", "outcome", "detail", "message_link"]
    readonly_fields = fields
    verbose_name_plural = "timeline"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return admin.site._registry[Enrollment].has_view_permission(request, obj)

    @admin.display(description="Message")
    def message_link(self, obj: EnrollmentStep) -> str:
        message = obj.message
        if message is None:
            return "—"
        url = reverse("admin:conversations_conversation_change", args=[message.conversation_id])
        text = (message.text or message.type)[:80]
        return format_html('<a href="{}#message-{}">{}</a> · {}', url, message.pk, text,
                           message.status)  # fmt: skip


@admin.register(Enrollment)
class EnrollmentAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """Leads in campaigns. Read here; stopped with the action; added by the audience
    upload on the campaign's page (or the API)."""

    member_roles = {"view": Role.VIEWER, "change": Role.ADMIN}

    class Media:
        css = {"all": ["campaigns/campaign.css"]}

    list_display = ["lead", "in_campaign", "state_badge", "step", "next_run", "updated"]
    list_filter = ["state", "campaign"]
    list_select_related = ["contact", "campaign"]
    search_fields = ["contact__name", "contact__phone"]
    search_help_text = "Contact name or phone."
    ordering = ["-created_at", "-id"]
    actions = ["stop"]
    inlines = [TimelineInline]
    fields = [
        "campaign",
        "contact",
        "conversation",
        "state_badge",
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
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # the campaign's audience upload adds leads

    def has_change_permission(self, request, obj=None) -> bool:
        # The list's action may change; one enrollment's page is a view.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # its history is the record of what was sent

    @admin.display(description="Lead", ordering="contact__name")
    def lead(self, obj: Enrollment) -> str:
        return two_lines(str(obj.contact), obj.contact.phone)

    @admin.display(description="Campaign", ordering="campaign__name")
    def in_campaign(self, obj: Enrollment) -> str:
        return format_html('<span class="sb-wrap">{}</span>', obj.campaign.name)

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj: Enrollment) -> str:
        # The reason below the badge, where it may wrap: some are long.
        label = badge(STATE_COLOURS.get(obj.state, GREY), obj.get_state_display())
        return two_lines(label, obj.stop_reason.replace("_", " "))

    @admin.display(description="Step", ordering="current_position")
    def step(self, obj: Enrollment) -> int:
        return obj.current_position

    @admin.display(description="Next step", ordering="next_run_at")
    def next_run(self, obj: Enrollment) -> str:
        if obj.next_run_at is None:
            return "—"
        return f"{obj.next_run_at:%d %b %H:%M} UTC"

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, obj: Enrollment) -> str:
        return ago(obj.updated_at)

    @admin.action(description="Stop (no further step)", permissions=["change"])
    def stop(self, request, queryset) -> None:
        stopped, refused = 0, 0
        for enrollment in queryset:
            try:
                services.enrollment_stop(enrollment=enrollment)
            except ApplicationError:
                refused += 1
            else:
                stopped += 1
        note = f"; {refused} had already ended" if refused else ""
        self.message_user(request, f"Stopped {stopped} lead(s){note}.", messages.SUCCESS)
