"""What every admin page draws the same way: coloured status badges, and history
pages that are read, never added to, edited or deleted."""

from datetime import UTC, datetime

from django.contrib.admin.views.main import ChangeList
from django.utils import timezone
from django.utils.html import format_html

GREEN, AMBER, RED, BLUE, GREY, PURPLE = (
    "#198754",
    "#fd7e14",
    "#dc3545",
    "#0d6efd",
    "#6c757d",
    "#6f42c1",
)


def badge(colour: str, text: str) -> str:
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'white-space:nowrap">{}</span>',
        colour,
        text,
    )


class HistoryAdminMixin:
    """A record of what happened: viewed in the admin, never changed there."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class UncountedChangeList(ChangeList):
    """For lists too large to count twice a page (show_full_result_count = False).

    Django then says "N results (Show all)" even when nothing is filtered, as if part of
    the list were hidden. With no filter and no search the filtered count is the total:
    say so, at no extra query."""

    def get_results(self, request):
        super().get_results(request)
        if self.full_result_count is None and not (self.has_active_filters or self.query):
            self.full_result_count = self.result_count


def short_span(seconds: float) -> str:
    """ "42 min", "3 h", "5 d": an age for a list column, exact enough to scan."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, with the exact time on hover; "—" for never."""
    if moment is None:
        return "—"
    now = now or timezone.now()
    seconds = (now - moment).total_seconds()
    return format_html(
        '<span title="{}">{}</span>',
        f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "just now" if seconds < 60 else f"{short_span(seconds)} ago",
    )


def two_lines(main: str, sub: str) -> str:
    """A list cell of what it is, and below it, quieter, where it belongs."""
    if not sub:
        return format_html("{}", main)
    return format_html('{}<div class="sb-sub">{}</div>', main, sub)
