from django.urls import re_path

from messaging.api.views import ConversationMessagesView, MessageSendView
from tenants.api.routers import OptionalSlashRouter

# The conversation's messages route is the inbox's, with sending added: config/urls.py
# includes this module before conversations.api.urls, so this view answers both.
router = OptionalSlashRouter()
router.register(
    r"conversations/(?P<conversation_id>[^/.]+)/messages",
    ConversationMessagesView,
    basename="conversation-message",
)

urlpatterns = [
    re_path(r"^messages/?$", MessageSendView.as_view(), name="message-send"),
    *router.urls,
]
