from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Campaigns, their steps and enrollments, and the scheduler that runs them."""

    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # A forgotten contact is a lead no more: stopped, their lead fields blanked.
        from campaigns.erasure import campaigns_erase
        from conversations.erasure import erasure_step_register

        erasure_step_register("campaigns", campaigns_erase)
