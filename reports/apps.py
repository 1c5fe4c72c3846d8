from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The top of the import order: rollups of what happened, the report API and
    pages, the weekly digest, the operators' email, metrics and alerts. It reads every
    app below it; nothing imports it."""

    name = "reports"
    verbose_name = "Reports"
