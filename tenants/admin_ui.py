"""What every admin page draws the same way: coloured status badges, and history
pages that are read, never added to, edited or deleted."""

from django.contrib.admin.views.main import ChangeList
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
