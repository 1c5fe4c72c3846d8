"""Celery entry points for templates (queue `maintenance`): each takes ids and calls a
service."""

from celery import shared_task

from providers.http import ProviderError
from templates import selectors, services

# Meta's 5xx and timeouts: tried again soon, a few times. Its rate limit is not retried
# here: the sync reports it and the next scheduled run tries again.
TRANSIENT_RETRIES = 3
TRANSIENT_RETRY_SECONDS = 30


@shared_task(bind=True, max_retries=TRANSIENT_RETRIES)
def templates_sync_task(self, channel_id: int) -> dict:
    """Sync one channel's templates from Meta."""
    channel = selectors.template_sync_channels().filter(pk=channel_id).first()
    if channel is None:
        return {"channel": channel_id, "skipped": "not an active WhatsApp channel with a WABA"}
    try:
        return services.templates_sync(channel=channel).as_dict()
    except ProviderError as exc:
        if exc.transient:
            raise self.retry(exc=exc, countdown=TRANSIENT_RETRY_SECONDS) from exc
        raise


@shared_task
def templates_sync_all_task() -> dict:
    """Queue a sync for every active WhatsApp channel with a WABA id, one task each,
    so that one channel's failure holds back no other."""
    channel_ids = list(selectors.template_sync_channels().values_list("pk", flat=True))
    for channel_id in channel_ids:
        templates_sync_task.delay(channel_id)
    return {"queued": channel_ids}
