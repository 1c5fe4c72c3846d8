"""The do-not-contact list in the admin: agents read it, admins add, remove and import.

Importing is two steps on one page: upload (preview: the counts and every invalid line,
nothing stored), then confirm. The confirm form carries the file's text back, so the
server keeps nothing between the steps; the text is read again and checked again on
confirm. If any line is invalid, the confirm stores nothing unless "import only the
valid lines" is ticked: a list that says someone must not be contacted is never
half-imported by accident.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from messaging import do_not_contact_import as importing
from messaging.do_not_contact import do_not_contact_normalize
from messaging.models import DoNotContact, DoNotContactSource
from providers.phones import InvalidPhoneNumberError
from tenants.admin_scope import OrganizationScopedAdmin, scope
from tenants.errors import ApplicationError
from tenants.models import Organization, Role

PREVIEWED_ENTRIES = 20


class DoNotContactForm(forms.ModelForm):
    """Adding one entry: the value is normalized (E.164) as the API does it."""

    default_region = forms.CharField(
        max_length=2,
        required=False,
        help_text="For a number written without +, e.g. US.",
    )

    class Meta:
        model = DoNotContact
        fields = ["organization", "kind", "value", "note"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk or not cleaned.get("kind") or not cleaned.get("value"):
            return cleaned
        try:
            region = importing.import_region(cleaned.get("default_region"))
            cleaned["value"] = do_not_contact_normalize(
                kind=cleaned["kind"], value=cleaned["value"], default_region=region
            )
        except ApplicationError as exc:
            self.add_error("default_region", exc.details["default_region"][0]["message"])
        except (InvalidPhoneNumberError, ValueError) as exc:
            self.add_error("value", str(exc))
        return cleaned


class ImportUploadForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    file = forms.FileField(help_text="CSV, UTF-8, at most 2 MB.")
    default_region = forms.CharField(
        max_length=2,
        required=False,
        help_text="Region of numbers written without +, e.g. US (default: the server's).",
    )

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        if organizations.count() == 1:
            self.fields["organization"].initial = organizations.first()


class ImportConfirmForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), widget=forms.HiddenInput
    )
    default_region = forms.CharField(required=False, widget=forms.HiddenInput)
    # A textarea, hidden: it keeps the file's line breaks as they were.
    content = forms.CharField(widget=forms.Textarea(attrs={"hidden": True}), strip=False)
    only_valid = forms.BooleanField(required=False, label="Import only the valid lines")

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations


@admin.register(DoNotContact)
class DoNotContactAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {
        "view": Role.AGENT,
        "add": Role.ADMIN,
        "change": Role.ADMIN,
        "delete": Role.ADMIN,
    }
    form = DoNotContactForm
    list_display = ["value", "kind", "note", "source", "added_by", "organization", "created_at"]
    list_filter = ["kind", "source", "organization"]
    search_fields = ["value", "note"]
    search_help_text = "A number (E.164, +1650…), a LinkedIn id, or words of the note."
    list_select_related = ["organization", "added_by"]
    ordering = ["-created_at", "-id"]

    def get_readonly_fields(self, request, obj=None):
        # An entry's value is what was asked: to list another, add it; only the note
        # may be corrected.
        fixed = ["source", "added_by", "created_at"]
        return [*fixed, "organization", "kind", "value"] if obj else fixed

    def get_fields(self, request, obj=None):
        if obj:
            return ["organization", "kind", "value", "note", "source", "added_by", "created_at"]
        return ["organization", "kind", "value", "default_region", "note"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = DoNotContactSource.ADMIN
            obj.added_by = request.user
        super().save_model(request, obj, form, change)

    # --- import -----------------------------------------------------------------------

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name=name), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        can_import = self.has_add_permission(request)
        return super().changelist_view(request, {**(extra_context or {}), "can_import": can_import})

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        organizations = scope(Organization.objects.order_by("name"), request, Role.ADMIN)
        if request.method == "POST" and "content" in request.POST:
            return self._confirm(request, organizations)
        form = ImportUploadForm(
            request.POST or None, request.FILES or None, organizations=organizations
        )
        if form.is_bound and form.is_valid():
            preview = self._preview(request, form, organizations)
            if preview is not None:
                return preview
        return self._page(request, upload=form)

    def _preview(self, request, form, organizations):
        data = form.cleaned_data
        try:
            text = importing.import_text(data["file"].read(importing.MAX_IMPORT_BYTES + 1))
            region = importing.import_region(data["default_region"])
            plan = importing.do_not_contact_import_plan(
                organization=data["organization"], text=text, default_region=region
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return None
        confirm = ImportConfirmForm(
            initial={
                "organization": data["organization"].pk,
                "default_region": region or "",
                "content": text,
            },
            organizations=organizations,
        )
        return self._page(request, confirm=confirm, plan=plan, organization=data["organization"])

    def _confirm(self, request, organizations):
        form = ImportConfirmForm(request.POST, organizations=organizations)
        if not form.is_valid():
            raise PermissionDenied  # an organization the person may not change
        data = form.cleaned_data
        options = {"organization": data["organization"], "text": data["content"]}
        region = None
        try:
            region = importing.import_region(data["default_region"])
            plan = importing.do_not_contact_import(
                **options,
                default_region=region,
                only_valid=data["only_valid"],
                added_by=request.user,
            )
        except ApplicationError as exc:
            self.message_user(request, f"Nothing imported: {exc.message}", messages.ERROR)
            plan = importing.do_not_contact_import_plan(**options, default_region=region)
            return self._page(request, confirm=form, plan=plan, organization=data["organization"])
        self.message_user(
            request,
            f"Imported into {data['organization']}: {len(plan.new)} added, {plan.skipped} "
            f"already listed, {plan.duplicates} duplicate lines merged, {plan.invalid} "
            "invalid lines left out.",
        )
        return redirect(reverse("admin:messaging_donotcontact_changelist"))

    def _page(self, request, *, upload=None, confirm=None, plan=None, organization=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a do-not-contact list",
            "opts": self.model._meta,
            "upload": upload,
            "confirm": confirm,
            "plan": plan,
            "organization": organization,
            "errors": sorted(plan.errors.items())[: importing.MAX_REPORTED_LINES] if plan else [],
            "sample": plan.new[:PREVIEWED_ENTRIES] if plan else [],
        }
        return TemplateResponse(request, "admin/messaging/donotcontact/import.html", context)
