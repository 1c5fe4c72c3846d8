"""What every report endpoint shares: the caller's organization and role, a date
range, and the same rows as JSON or CSV (`Accept: text/csv` or `?format=csv`).

A report view returns `Response({"range": ..., "rows": [...]})`; the CSV renderer
writes `rows` (a list of flat dicts, the first one's keys as the header). Errors stay
JSON in the house format whatever was asked for: a CSV of `{code, message}` would read
as a report with one odd row.
"""

import csv
import io

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from reports.ranges import DateRange, date_range_parse
from tenants.api.base import OrganizationScopedMixin
from tenants.models import Role


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        rows = data.get("rows", []) if isinstance(data, dict) else data
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(_cell(row) for row in rows)
        return out.getvalue().encode("utf-8")


def _cell(row: dict) -> dict:
    # Formula injection: a cell starting with = + - @ is run by spreadsheets.
    return {
        key: f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value
        for key, value in row.items()
    }


class ReportView(OrganizationScopedMixin, APIView):
    """Read-only: every member of the organization may read its reports."""

    read_role = Role.VIEWER
    renderer_classes = [JSONRenderer, CSVRenderer]
    # The CSV's file name, without the range (added per request).
    filename = "report"

    def date_range(self) -> DateRange:
        return date_range_parse(self.request.query_params, organization=self.organization)

    def finalize_response(self, request, response, *args, **kwargs):
        renderer = getattr(request, "accepted_renderer", None)
        if response.status_code >= 400 and renderer and renderer.format == "csv":
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code < 400 and request.accepted_renderer.format == "csv":
            span = response.data.get("range", {}) if isinstance(response.data, dict) else {}
            suffix = f"_{span.get('from')}_{span.get('to')}" if span else ""
            response["Content-Disposition"] = f'attachment; filename="{self.filename}{suffix}.csv"'
        return response
