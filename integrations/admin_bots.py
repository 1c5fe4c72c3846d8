"""The responders' bursts, for support staff: what a bot was sent (or would have been,
before an agent took over), and when. A record: read-only."""

from django.contrib import admin

from integrations.models import Burst, BurstState
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import AMBER, GREEN, GREY, HistoryAdminMixin, badge
from tenants.models import Role

STATE_COLOURS = {BurstState.COLLECTING: AMBER, BurstState.EMITTED: GREEN}


@admin.register(Burst)
class BurstAdmin(OrganizationScopedAdmin, HistoryAdminMixin, admin.ModelAdmin):
    member_roles = {"view": Role.ADMIN}
    list_display = [
        "id",
        "subscription",
        "conversation_id",
        "state_badge",
        "message_count",
        "first_at",
        "last_at",
        "due_at",
        "finished_at",
    ]
    list_filter = ["state", "subscription", "created_at"]
    search_fields = ["=conversation__id", "=event_id"]
    list_select_related = ["subscription"]
    show_full_result_count = False
    fields = [
        "subscription",
        "conversation_id",
        "state_badge",
        "message_ids",
        "first_at",
        "last_at",
        "due_at",
        "event_id",
        "finished_at",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj: Burst) -> str:
        return badge(STATE_COLOURS.get(obj.state, GREY), obj.get_state_display())

    @admin.display(description="Messages")
    def message_count(self, obj: Burst) -> int:
        return len(obj.message_ids)
