from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """Provider API backfills and webhook health checks."""

    name = "reconciliation"
    verbose_name = "Reconciliation"
