"""Housekeeping of the platform's own tables."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_celery_results.models import TaskResult

BATCH_SIZE = 5_000


def task_results_purge(*, older_than: timedelta | None = None) -> int:
    """Delete finished task results older than the retention, in batches so that a large
    backlog never holds one long lock. Returns how many were deleted."""
    retention = older_than or timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    cutoff = timezone.now() - retention
    deleted = 0
    while True:
        batch = list(
            TaskResult.objects.filter(date_done__lt=cutoff).values_list("id", flat=True)[
                :BATCH_SIZE
            ]
        )
        if not batch:
            return deleted
        deleted += TaskResult.objects.filter(id__in=batch).delete()[0]
