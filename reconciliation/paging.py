"""Reading one page of a provider's messages for a run, within bounds.

A 429 with a short Retry-After is waited out; a longer one fails the run at once.
Other transient errors (timeouts, dropped connections, 5xx) are tried again after a
backoff. Either way at most RECONCILIATION_FETCH_ATTEMPTS times within
RECONCILIATION_FETCH_SECONDS: an unreachable provider fails the run (which keeps its
cursor) instead of holding a worker."""

import logging
import time

from django.conf import settings

from providers import Provider
from providers.http import ProviderError
from reconciliation.leases import run_lease_renew
from reconciliation.models import ReconciliationRun
from reconciliation.sources import Batch, Source, next_batch
from tenants.errors import ApplicationError, ErrorCode

logger = logging.getLogger(__name__)

# Waiting longer than this for a provider's Retry-After fails the run instead (the
# worker is not held; the next trigger resumes from the cursor).
MAX_INLINE_WAIT = 30.0
# Backoff between attempts at a page when the provider gives no Retry-After.
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 15.0


def page_fetch(run: ReconciliationRun, cursor: dict, source: Source = next_batch) -> Batch:
    """The page at `cursor`. Transient errors are tried again after the provider's
    Retry-After (when short) or a backoff, at most RECONCILIATION_FETCH_ATTEMPTS times
    within RECONCILIATION_FETCH_SECONDS; then the run fails, keeping its cursor."""
    attempts = settings.RECONCILIATION_FETCH_ATTEMPTS
    started = time.monotonic()
    deadline = started + settings.RECONCILIATION_FETCH_SECONDS
    for attempt in range(1, attempts + 1):
        try:
            return source(run.channel, cursor, run.window_start, run.window_end)
        except ProviderError as exc:
            wait = exc.retry_after if exc.retry_after is not None else _backoff(attempt)
            if not exc.transient or wait > MAX_INLINE_WAIT:
                raise
            if attempt == attempts or time.monotonic() + wait > deadline:
                raise _gave_up(run, exc, attempt, time.monotonic() - started) from exc
            logger.info("Run %s: %s; attempt %s, waiting %.1fs", run.pk, exc, attempt, wait)
            time.sleep(wait)
            run_lease_renew(run=run)  # still alive: the lease outlasts the wait
    raise AssertionError("unreachable")  # the loop returns or raises


def _backoff(attempt: int) -> float:
    return min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)


def _gave_up(run: ReconciliationRun, exc: ProviderError, attempts: int, seconds: float):
    provider = Provider(run.channel.provider).label
    return ApplicationError(
        ErrorCode.PROVIDER_ERROR,
        f"{provider} could not be read after {attempts} attempt(s) in {seconds:.0f}s; "
        f"last error: {exc}.",
        {"code": exc.code, "attempts": attempts},
    )
