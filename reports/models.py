"""The reports app's tables, one module per subject; imported here so Django finds
them."""

from reports.alert_models import AlertIncident, ChannelQuietPeriod, QueueLengthSample  # noqa: F401
from reports.campaign_models import (  # noqa: F401
    CampaignDayRollup,
    CampaignLeadFact,
    CampaignReportCursor,
    CampaignStepFact,
)
from reports.digest_models import (  # noqa: F401
    DigestDelivery,
    DigestRecipient,
    DigestSchedule,
    DigestSend,
)
from reports.inbox_models import ConversationFact, InboxDay  # noqa: F401
