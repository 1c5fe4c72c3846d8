"""The daily reconciliation of LinkedIn relations (run kind `relations`).

Unipile's `new_relation` webhook comes up to 8 hours late, and like any webhook it may
never come. Once a day each LinkedIn channel's relations list is read, newest first,
back to the run's window start, and every relation is applied exactly as the webhook
would be (messaging.invitations.relation_apply): the invitations it answers are
accepted, a relation already known changes nothing. Each page is applied and the cursor
moved in one transaction, so a run that stops resumes without skipping or repeating.
"""

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from messaging.invitations import relation_apply
from providers import Provider
from providers.base import PayloadError
from providers.events import Event
from providers.unipile_relations import relation_created_at, relation_from_api
from reconciliation.models import ReconciliationRun
from reconciliation.paging import page_fetch
from reconciliation.sources import Batch
from tenants.clients import send_client_for
from tenants.models import Channel

SOURCE = "reconciliation"


def relations_reconcilable(channel: Channel) -> bool:
    return Provider(channel.provider) == Provider.UNIPILE and bool(channel.account_id)


def relations_lookback_hours() -> int:
    return settings.RELATIONS_LOOKBACK_HOURS


def relations_reconcile(
    run: ReconciliationRun, *, save: Callable[[ReconciliationRun], None], on_progress=None
) -> None:
    while not run.cursor.get("done"):
        batch = page_fetch(run, run.cursor, source=relations_batch)
        with transaction.atomic():
            outcomes = Counter(
                relation_apply(channel=run.channel, event=event, source=SOURCE)
                for event in batch.events
            )
            run.fetched += batch.fetched
            run.created += outcomes["recorded"]
            run.updated += outcomes["accepted"]
            run.unchanged += outcomes["duplicate"]
            progress = dict(batch.progress)
            run.errors += progress.pop("unreadable", 0)
            run.cursor, run.progress = batch.cursor, {**run.progress, **progress}
            save(run)
        if on_progress:
            on_progress(run)


def relations_batch(channel: Channel, cursor: dict, start: datetime, end: datetime) -> Batch:
    """One page of relations. The list is newest first: the first relation older than
    the window's start ends the run."""
    with send_client_for(channel) as client:
        page = client.relations_page(cursor=cursor.get("page", ""))
    now = timezone.now()
    events: list[Event] = []
    unreadable, reached_start = 0, False
    for item in page.items:
        created = relation_created_at(item)
        if created is not None and created < start:
            reached_start = True
            continue
        try:
            events.append(relation_from_api(item, account_id=channel.account_id, now=now))
        except PayloadError:
            unreadable += 1
    pages = cursor.get("pages", 0) + 1
    done = reached_start or page.next is None
    following = {"done": True} if done else {"page": page.next, "pages": pages}
    return Batch(events, len(page.items), following, {"pages": pages, "unreadable": unreadable})
