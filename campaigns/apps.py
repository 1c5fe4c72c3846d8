from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Campaigns, their steps and enrollments, and the scheduler that runs them."""

    name = "campaigns"
    verbose_name = "Campaigns"
