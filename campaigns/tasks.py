from dataclasses import asdict

from celery import shared_task

from campaigns.scheduler import scheduler_tick


# Every minute (reconciliation.schedules), on the `default` queue: a tick may run for
# up to TICK_BUDGET_SECONDS, too long for `sweeps`, whose tasks must never wait behind
# long work. Two ticks at once are safe: claims skip each other's rows.
@shared_task(ignore_result=True)
def campaigns_tick_task() -> dict:
    return asdict(scheduler_tick())
