"""The admin's Reports page (/admin/reports/): one organization's inbox, campaigns and
usage against caps over a range of its local days, with charts (reports.charts) and a
CSV download of every table.

Scoped like every admin page (tenants.admin_scope): a member sees the organizations
they belong to (any role: reports only read), a superuser every active one; another
organization's id is a 404, never a page that confirms it exists.

The CSV is served here, from the session the page already has, with the same
selectors as the table and the API's CSV renderer: the API resolves a person's
organization from a header a plain link cannot send.
"""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from reports.api.base import CSVRenderer
from reports.page_sections import (
    FUNNEL,
    TABLES,
    Filters,
    campaigns_section,
    inbox_section,
    usage_section,
)
from reports.ranges import date_range_parse, local_day, organization_tz
from tenants.admin_scope import member_roles
from tenants.errors import ApplicationError
from tenants.ids import object_id
from tenants.models import Channel, Organization

QUICK_RANGES = [7, 30, 90]


def reports_url(organization: Organization, **params) -> str:
    """The page's path for `organization` (the digest links to it)."""
    query = urlencode({"organization": organization.pk, **params})
    return f"{reverse('admin:reports')}?{query}"


def visible_organizations(request):
    organizations = Organization.objects.filter(is_active=True).order_by("name", "pk")
    if request.user.is_superuser:
        return organizations
    return organizations.filter(pk__in=list(member_roles(request)))


def may_see_reports(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or bool(member_roles(request)))


def reports_page_link(request, apps: list[dict]) -> None:
    """Adds the page as the first entry of the Reports app in the admin's app list (the
    index and the sidebar), for everyone who may open it. The page's path is the app's
    own (/admin/reports/), so the app's heading leads there too."""
    if not may_see_reports(request):
        return
    app = next((app for app in apps if app["app_label"] == "reports"), None)
    if app is None:
        app = {"name": "Reports", "app_label": "reports", "has_module_perms": True, "models": []}
        apps.append(app)
    app["app_url"] = reverse("admin:reports")
    page = {
        "name": "Reports page",
        "object_name": "ReportsPage",
        "view_only": True,
        "admin_url": reverse("admin:reports"),
        "add_url": None,
        "perms": {"view": True},
    }
    app["models"].insert(0, page)


def reports_view(request):
    organization = _organization(request)
    filters, range_error = _filters(request, organization)
    wanted = request.GET.get("csv")
    if wanted:
        return _csv(wanted, filters)
    if range_error:
        messages.warning(request, f"{range_error} Showing the last 30 days instead.")
    span = filters.span
    campaigns = campaigns_section(filters)
    for campaign in campaigns["campaigns"]:
        campaign["steps_csv"] = _csv_url(request, "campaign_steps", campaign=campaign["id"])
    context = {
        **admin.site.each_context(request),
        "title": f"Reports: {organization.name}",
        "organization": organization,
        "organizations": visible_organizations(request),
        "channels": Channel.objects.filter(organization=organization).order_by("name"),
        "filters": filters,
        "span": span,
        "quick_ranges": _quick_ranges(request, organization),
        "inbox": inbox_section(filters),
        "campaigns": campaigns,
        "usage": usage_section(filters),
        "csv": {name: _csv_url(request, name) for name in TABLES},
        "step_headers": [
            "Step",
            "Kind",
            *(k.capitalize() for k in FUNNEL[1:]),
            "Failed",
            "Reply rate",
        ],
    }
    return TemplateResponse(request, "admin/reports/reports.html", context)


def _organization(request) -> Organization:
    visible = visible_organizations(request)
    raw = request.GET.get("organization")
    if raw in (None, ""):
        found = visible.first()
    else:
        wanted = object_id(raw)
        found = visible.filter(pk=wanted).first() if wanted is not None else None
    if found is None:
        raise Http404("No such organization.")
    return found


def _filters(request, organization: Organization) -> tuple[Filters, str]:
    """The range (a bad one falls back to the default, said in a message), the channel
    and the campaign; ids of another organization's channel or campaign are ignored
    by the selectors' scoping: they hold nothing of this organization."""
    error = ""
    try:
        span = date_range_parse(request.GET, organization=organization)
    except ApplicationError as exc:
        span, error = date_range_parse({}, organization=organization), exc.message
    channel_id = object_id(request.GET.get("channel") or "")
    if (
        channel_id is not None
        and not Channel.objects.filter(pk=channel_id, organization=organization).exists()
    ):
        raise Http404("No such channel.")
    campaign_id = object_id(request.GET.get("campaign") or "")
    return Filters(organization, span, channel_id, campaign_id), error


def _csv(name: str, filters: Filters) -> HttpResponse:
    table = TABLES.get(name)
    if table is None:
        raise Http404("No such table.")
    body = CSVRenderer().render({"rows": table(filters)})
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    span = filters.span
    filename = f"{filters.organization.slug}_{name}_{span.start}_{span.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_url(request, name: str, **extra) -> str:
    params = {key: value for key, value in request.GET.items() if key != "csv"}
    return f"{reverse('admin:reports')}?{urlencode({**params, **extra, 'csv': name})}"


def _quick_ranges(request, organization: Organization) -> list[tuple[str, str]]:
    today = local_day(timezone.now(), organization_tz(organization))
    kept = {
        key: value
        for key, value in request.GET.items()
        if key in ("organization", "channel", "campaign")
    }
    kept["organization"] = organization.pk
    return [
        (
            f"Last {days} days",
            f"?{urlencode({**kept, 'from': today - timedelta(days=days - 1), 'to': today})}",
        )
        for days in QUICK_RANGES
    ]
