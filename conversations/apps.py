from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    """Contacts, conversations, messages and the 24-hour window."""

    name = "conversations"
    verbose_name = "Conversations"
