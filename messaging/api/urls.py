from django.urls import re_path

from messaging.api.do_not_contact import DoNotContactViewSet
from messaging.api.views import ConversationMessagesView, MessageSendView
from tenants.api.routers import OptionalSlashRouter
from tenants.ids import ID_PATTERN

# The conversation's messages route is the inbox's, with sending added: config/urls.py
# includes this module before conversations.api.urls, so this view answers both.
router = OptionalSlashRouter()
router.register(
    rf"conversations/(?P<conversation_id>{ID_PATTERN})/messages",
    ConversationMessagesView,
    basename="conversation-message",
)
router.register("do-not-contact", DoNotContactViewSet, basename="do-not-contact")

urlpatterns = [
    re_path(r"^messages/?$", MessageSendView.as_view(), name="message-send"),
    *router.urls,
]
