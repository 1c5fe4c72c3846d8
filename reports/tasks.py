"""Celery entry points of the reports app: each calls a service."""

from celery import shared_task
from django.utils import timezone

from reports.alerts import alerts_evaluate
from reports.ops_digest import ops_digest_send
from reports.quiet import quiet_periods_learn


@shared_task
def alerts_evaluate_task() -> dict:
    return alerts_evaluate()


@shared_task
def quiet_periods_learn_task() -> dict:
    return quiet_periods_learn(now=timezone.now())


@shared_task
def ops_digest_send_task() -> dict:
    return ops_digest_send()
