from django.urls import re_path

from conversations.api.views import (
    ContactViewSet,
    ConversationMessageViewSet,
    ConversationViewSet,
    InboxCountersView,
)
from tenants.api.routers import OptionalSlashRouter
from tenants.ids import ID_PATTERN

router = OptionalSlashRouter()
router.register("conversations", ConversationViewSet, basename="conversation")
router.register(
    rf"conversations/(?P<conversation_id>{ID_PATTERN})/messages",
    ConversationMessageViewSet,
    basename="conversation-message",
)
router.register("contacts", ContactViewSet, basename="contact")

urlpatterns = [
    re_path(r"^inbox/counters/?$", InboxCountersView.as_view(), name="inbox-counters"),
    *router.urls,
]
