"""The campaign page's own parts: the progress panel and the Start/Pause/Resume/Cancel
buttons (posting to `<id>/act/`), and the audience upload (`<id>/audience/`): a CSV
file, a preview of what it would do with every line in error, then confirm.

Between preview and confirm the file waits in the person's session (stored in
PostgreSQL by Django's database session backend), under a key the confirm form
names: nothing is kept in a process's memory, and the confirm reads the file again
from there and imports it under the same rules as the preview.
"""

import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from campaigns import services
from campaigns.audience import audience_import, campaign_needs
from campaigns.leads import leads_parse
from campaigns.models import Campaign, CampaignStatus
from campaigns.progress import campaign_preview, campaign_progress
from tenants.errors import ApplicationError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
SESSION_PREFIX = "campaign_audience:"
ACTIONS = {
    "start": (services.campaign_start, "Started."),
    "pause": (services.campaign_pause, "Paused: nothing more is sent until it resumes."),
    "resume": (services.campaign_resume, "Resumed."),
    "cancel": (services.campaign_cancel, "Cancelled: every lead still to run is stopped."),
}
# Which buttons a campaign in each status shows.
BUTTONS = {
    CampaignStatus.DRAFT: ["start", "cancel"],
    CampaignStatus.SCHEDULED: ["pause", "cancel"],
    CampaignStatus.RUNNING: ["pause", "cancel"],
    CampaignStatus.PAUSED: ["resume", "cancel"],
}


class AudienceForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="A header line; columns phone and/or linkedin (profile URL or member id), "
        "first_name, last_name or name, company; any other column is a custom field.",
    )
    default_region = forms.CharField(
        max_length=2,
        required=False,
        label="Default country",
        help_text="ISO code (US, FR...) for numbers written without their country code.",
    )
    skip_invalid = forms.BooleanField(
        required=False,
        label="Import the valid lines and skip those in error",
        help_text="Otherwise a line in error imports nothing.",
    )


class CampaignPages:
    """Mixed into CampaignAdmin, before OrganizationScopedAdmin."""

    change_form_template = "admin/campaigns/campaign/change_form.html"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        site = self.admin_site
        return [
            path("<path:object_id>/act/", site.admin_view(self.act_view), name=f"{prefix}_act"),
            path(
                "<path:object_id>/audience/",
                site.admin_view(self.audience_view),
                name=f"{prefix}_audience",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if campaign is not None:
            context.update(self._panel(request, campaign))
        return super().change_view(request, object_id, form_url, context)

    def _panel(self, request, campaign: Campaign) -> dict:
        may_run = self.has_change_permission(request, campaign)
        starting = campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
        return {
            "progress": campaign_progress(campaign=campaign),
            "preview": campaign_preview(campaign=campaign, count=3, missing_limit=20)
            if starting
            else None,
            "buttons": BUTTONS.get(campaign.status, []) if may_run else [],
            "may_run": may_run,
            "enrollments_url": reverse("admin:campaigns_enrollment_changelist")
            + f"?campaign__id__exact={campaign.pk}",
        }

    def _runnable(self, request, object_id) -> Campaign:
        campaign = self.get_object(request, object_id)  # another organization's: 404
        if campaign is None:
            raise Http404
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        return campaign

    @method_decorator(require_POST)
    def act_view(self, request, object_id):
        campaign = self._runnable(request, object_id)
        action = ACTIONS.get(request.POST.get("do", ""))
        if action is None:
            self.message_user(request, "Nothing to do.", messages.WARNING)
        else:
            service, done = action
            try:
                service(campaign=campaign)
            except ApplicationError as error:
                self.message_user(request, f"Not done. {error.message}", messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
        return _back_to(campaign)

    def audience_view(self, request, object_id):
        campaign = self._runnable(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": f"Audience of {campaign.name}",
            "needs": campaign_needs(campaign).value,
        }
        if request.method == "POST" and request.POST.get("confirm"):
            return self._confirm(request, campaign)
        form = AudienceForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            context.update(self._preview(request, campaign, form))
        context["form"] = form
        return TemplateResponse(request, "admin/campaigns/campaign/audience.html", context)

    def _preview(self, request, campaign: Campaign, form: AudienceForm) -> dict:
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("file", f"At most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
            return {}
        data = upload.read()
        options = {
            "region": form.cleaned_data["default_region"].upper(),
            "skip_invalid": form.cleaned_data["skip_invalid"],
        }
        report = self._import(request, campaign, data, options, dry_run=True)
        if report is None:
            return {}
        token = secrets.token_urlsafe(12)
        request.session[f"{SESSION_PREFIX}{token}"] = {
            "campaign": campaign.pk,
            "csv": data.decode("utf-8", errors="replace"),
            **options,
        }
        parsed_leads = leads_parse(
            data=data, needs=campaign_needs(campaign), default_region=options["region"] or None
        ).leads[:10]
        can_import = report.enrolled > 0 and (not report.errors or options["skip_invalid"])
        return {
            "report": report,
            "sample": parsed_leads,
            "token": token if can_import else "",
            "options": options,
        }

    def _confirm(self, request, campaign: Campaign):
        stored = request.session.pop(f"{SESSION_PREFIX}{request.POST['confirm']}", None)
        if not stored or stored.get("campaign") != campaign.pk:
            self.message_user(request, "That preview has expired: upload the file again.",
                              messages.WARNING)  # fmt: skip
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_audience",
                                                args=[campaign.pk]))  # fmt: skip
        report = self._import(request, campaign, stored["csv"].encode(), stored, dry_run=False)
        if report is not None and report.imported:
            skipped = f", {report.skipped_invalid} line(s) in error skipped" if (
                report.skipped_invalid) else ""  # fmt: skip
            self.message_user(
                request,
                f"Enrolled {report.enrolled} lead(s) ({report.contacts_created} new contact(s), "
                f"{report.already_enrolled} already enrolled{skipped}).",
                messages.SUCCESS,
            )
        elif report is not None:
            self.message_user(
                request, f"Nothing imported: {len(report.errors)} error(s).", messages.ERROR
            )
        return _back_to(campaign)

    def _import(self, request, campaign, data: bytes, options: dict, *, dry_run: bool):
        parsed = leads_parse(
            data=data, needs=campaign_needs(campaign), default_region=options["region"] or None
        )
        try:
            return audience_import(
                campaign=campaign, parsed=parsed, dry_run=dry_run,
                skip_invalid=options["skip_invalid"],
            )  # fmt: skip
        except ApplicationError as error:
            self.message_user(request, f"Not done. {error.message}", messages.ERROR)
            return None


def _back_to(campaign: Campaign) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
