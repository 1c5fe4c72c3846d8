"""The reports app's tables, one module per subject; imported here so Django finds
them."""

from reports.inbox_models import ConversationFact, InboxDay  # noqa: F401
