"""The reports app's tables, one module per subject; imported here so Django finds
them."""

from reports.campaign_models import (  # noqa: F401
    CampaignDayRollup,
    CampaignLeadFact,
    CampaignReportCursor,
    CampaignStepFact,
)
from reports.inbox_models import ConversationFact, InboxDay  # noqa: F401
