"""The reports app's tables, one module per subject; imported here so Django finds
them."""

from reports.alert_models import AlertIncident, ChannelQuietPeriod, QueueLengthSample  # noqa: F401
