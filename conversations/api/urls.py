from django.urls import re_path

from conversations.api.views import (
    ContactViewSet,
    ConversationMessageViewSet,
    ConversationViewSet,
    InboxCountersView,
)
from tenants.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("conversations", ConversationViewSet, basename="conversation")
router.register(
    r"conversations/(?P<conversation_id>[^/.]+)/messages",
    ConversationMessageViewSet,
    basename="conversation-message",
)
router.register("contacts", ContactViewSet, basename="contact")

urlpatterns = [
    re_path(r"^inbox/counters/?$", InboxCountersView.as_view(), name="inbox-counters"),
    *router.urls,
]
