"""Consent benchmark: what the consent and do-not-contact checks (issue 14) cost a send,
each beside a baseline measured in the same run, in alternating rounds (A B A B...) so
that the machine's drift falls on both.

    BENCH_DATABASE=bench_consent DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/consent.py

On --contacts contacts (each with a WhatsApp identity), --consents consent rows and
--listed do-not-contact entries (half of them the numbers of contacts, half numbers of
nobody):
1. the checks alone: `check_may_contact` on a conversation, µs and queries per call,
   for an allowed contact (the common case), a listed one and an opted-out one; the
   baseline is one primary-key SELECT of the contact;
2. `message_send_text` per second, with the checks as they are and with the two
   contact checks (one query) replaced by no-ops (patched here only), same conversations;
3. the batch reads campaigns will use, `contacts_opted_out` and
   `do_not_contact_matches`, for --batch contact ids: ms and queries; the baseline is
   one SELECT of those contacts' ids.
Uses (and drops) the database $BENCH_DATABASE.
"""

import argparse
import random
import statistics
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    bench_environment,
    drop_database,
    fresh_database,
    setup_django,
    whatsapp_channel,
)

CHUNK = 5_000


def main() -> None:
    options = _options()
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    try:
        world = _build(options)
        print(
            f"{options.contacts:,} contacts, {options.consents:,} consent rows, "
            f"{options.listed:,} do-not-contact entries; {options.rounds} alternating rounds\n"
        )
        _checks_alone(world, options)
        _sends(world, options)
        _batches(world, options)
    finally:
        _purge_outbound()
        drop_database(env)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--consents", type=int, default=10_000, help="consent rows")
    parser.add_argument("--listed", type=int, default=10_000, help="do-not-contact entries")
    parser.add_argument("--conversations", type=int, default=2_000, help="allowed ones")
    parser.add_argument("--calls", type=int, default=5_000, help="check calls per round")
    parser.add_argument("--sends", type=int, default=1_000, help="sends per round")
    parser.add_argument("--batch", type=int, default=1_000, help="contact ids per batch read")
    parser.add_argument("--batches", type=int, default=20, help="batch reads per round")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


# --- the data ----------------------------------------------------------------------


def _phone(n: int) -> str:
    return f"+1650{n:07d}"


def _build(options) -> dict:
    """Contacts n = 0..N-1 with phone _phone(n) and a wa_id identity. The last
    `listed`/2 contacts are on the list by their phone; the `consents` rows cover the
    contacts before them (both WhatsApp scopes each: half opted out, half subscribed).
    Conversations (window open) go to contacts who are neither."""
    from django.db import connection
    from django.utils import timezone

    from conversations.consent_models import Consent, ConsentScope, ConsentSource, ConsentState
    from conversations.models import Contact, ContactIdentity, Conversation, IdentityKind
    from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource, SendLimit

    started = time.monotonic()
    channel = whatsapp_channel()
    channel.access_token = "bench-token"
    channel.save()
    SendLimit.objects.create(channel=channel, per_second=1_000_000)  # measure the path
    org = channel.organization_id
    n_contacts = options.contacts
    for start in range(0, n_contacts, CHUNK):
        Contact.objects.bulk_create(
            Contact(organization_id=org, name=f"Customer {n}", phone=_phone(n))
            for n in range(start, min(start + CHUNK, n_contacts))
        )
    ids = list(Contact.objects.order_by("phone").values_list("pk", flat=True))
    for start in range(0, n_contacts, CHUNK):
        ContactIdentity.objects.bulk_create(
            ContactIdentity(
                contact_id=ids[n], channel=channel, kind=IdentityKind.WA_ID, value=_phone(n)[1:]
            )
            for n in range(start, min(start + CHUNK, n_contacts))
        )
    listed_contacts = range(n_contacts - options.listed // 2, n_contacts)
    numbers = [_phone(n) for n in listed_contacts]
    numbers += [f"+1415{n:07d}" for n in range(options.listed - len(numbers))]  # nobody's
    DoNotContact.objects.bulk_create(
        (
            DoNotContact(
                organization_id=org,
                kind=DoNotContactKind.PHONE,
                value=value,
                source=DoNotContactSource.IMPORT,
            )
            for value in numbers
        ),
        batch_size=CHUNK,
    )
    with_consent = range(options.consents // 2)  # two rows (scopes) per contact
    now = timezone.now()
    Consent.objects.bulk_create(
        (
            Consent(
                organization_id=org,
                contact_id=ids[n],
                kind="whatsapp",
                scope=scope,
                state=ConsentState.OPTED_OUT if n % 2 else ConsentState.SUBSCRIBED,
                source=ConsentSource.IMPORT,
                changed_at=now,
            )
            for n in with_consent
            for scope in ConsentScope
        ),
        batch_size=CHUNK,
    )
    # Allowed: half with a `subscribed` row (the index finds a row, not an opt-out),
    # half with none.
    allowed = [n for n in with_consent if n % 2 == 0][: options.conversations // 2]
    allowed += list(range(len(with_consent), len(with_consent) + options.conversations // 2))
    opened = {
        "last_user_message_at": now,
        "window_expires_at": now + timezone.timedelta(hours=24),
        "is_window_open": True,
    }

    def conversations(numbers) -> list:
        made = Conversation.objects.bulk_create(
            Conversation(organization_id=org, channel=channel, contact_id=ids[n], **opened)
            for n in numbers
        )
        return list(
            Conversation.objects.select_related("channel").filter(pk__in=[c.pk for c in made])
        )

    world = {
        "organization_id": org,
        "contact_ids": ids,
        "allowed": conversations(allowed),
        "listed": conversations(list(listed_contacts)[:200]),
        "opted_out": conversations([n for n in with_consent if n % 2][:200]),
    }
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"built the data in {time.monotonic() - started:.1f}s")
    return world


# --- 1. the checks alone ------------------------------------------------------------


def _checks_alone(world, options) -> None:
    from conversations.consent_models import ConsentScope
    from conversations.models import Contact
    from messaging.checks import Recipient, check_may_contact
    from tenants.errors import ApplicationError

    def check(conversation):
        with suppress(ApplicationError):
            check_may_contact(Recipient.of(conversation), scope=ConsentScope.SERVICE)

    def baseline(conversation):
        Contact.objects.filter(pk=conversation.contact_id).values_list("pk").first()

    rows = {
        "baseline: one primary-key SELECT": (baseline, world["allowed"]),
        "check_may_contact, allowed contact": (check, world["allowed"]),
        "check_may_contact, listed (refused)": (check, world["listed"]),
        "check_may_contact, opted out (refused)": (check, world["opted_out"]),
    }
    timings: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(options.rounds):
        for name, (call, conversations) in rows.items():
            started = time.perf_counter()
            for i in range(options.calls):
                call(conversations[i % len(conversations)])
            timings[name].append((time.perf_counter() - started) / options.calls * 1e6)
    print(f"1. the checks alone ({options.calls:,} calls per round, µs per call by round)")
    for name, (call, conversations) in rows.items():
        queries = _queries(lambda c=call, cs=conversations: [c(x) for x in cs[:50]]) / 50
        print(f"   {name:<42} {_rounds(timings[name], '{:.0f}')} µs, {queries:g} queries/call")


# --- 2. sends per second ------------------------------------------------------------


def _sends(world, options) -> None:
    from django.db import transaction

    from messaging import services

    conversations = world["allowed"][:300]

    def send_many(label: str) -> float:
        started = time.perf_counter()
        for start in range(0, options.sends, 500):
            with transaction.atomic():  # the send tasks are queued as each block commits
                for n in range(start, min(start + 500, options.sends)):
                    conversation = conversations[n % len(conversations)]
                    services.message_send_text(conversation=conversation, text=f"{label} {n}")
        return options.sends / (time.perf_counter() - started)

    rates: dict[str, list[float]] = {"checks as they are": [], "contact checks no-ops": []}
    for _ in range(options.rounds):
        rates["checks as they are"].append(send_many("checked"))
        with _without_contact_checks():
            rates["contact checks no-ops"].append(send_many("unchecked"))
        _purge_outbound()
    print(
        f"\n2. message_send_text, {options.sends:,} sends per round to "
        f"{len(conversations)} conversations (sends/s by round)"
    )
    for name, values in rates.items():
        print(f"   {name:<42} {_rounds(values, '{:,.0f}')} sends/s")
    with_checks = statistics.median(rates["checks as they are"])
    without = statistics.median(rates["contact checks no-ops"])
    print(
        f"   median cost of the checks: {1e6 / with_checks - 1e6 / without:+.0f} µs per send "
        f"({with_checks / without:.2f} of the rate without them)"
    )


@contextmanager
def _without_contact_checks():
    """The contact checks of messaging.services (one query) as no-ops, for the
    baseline: the standing read says nothing without asking the database."""
    from messaging import services
    from messaging.standing import Standing

    saved = services.standing
    services.standing = lambda *args, **kwargs: Standing("whatsapp")
    try:
        yield
    finally:
        services.standing = saved


# --- 3. batch reads for campaigns --------------------------------------------------


def _batches(world, options) -> None:
    from conversations.consent import contacts_opted_out
    from conversations.models import Contact
    from messaging.do_not_contact import do_not_contact_matches

    org = world["organization_id"]
    rng = random.Random(14)
    samples = [rng.sample(world["contact_ids"], options.batch) for _ in range(options.batches)]
    found: dict[str, int] = {}

    def baseline(ids):
        return list(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))

    def opted_out(ids):
        return contacts_opted_out(contact_ids=ids, kind="whatsapp", scope="marketing")

    def listed(ids):
        return do_not_contact_matches(organization_id=org, contact_ids=ids)

    rows = {
        "baseline: SELECT the contacts' ids": baseline,
        "contacts_opted_out (marketing)": opted_out,
        "do_not_contact_matches": listed,
    }
    timings: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(options.rounds):
        for name, call in rows.items():
            started = time.perf_counter()
            for ids in samples:
                found[name] = len(call(ids))
            timings[name].append((time.perf_counter() - started) / len(samples) * 1e3)
    print(
        f"\n3. batch reads for {options.batch:,} random contact ids "
        f"({options.batches} reads per round, ms per read by round)"
    )
    for name, call in rows.items():
        queries = _queries(lambda c=call: c(samples[0]))
        print(
            f"   {name:<42} {_rounds(timings[name], '{:.1f}')} ms, {queries} "
            f"quer{'y' if queries == 1 else 'ies'}, {found[name]} found in the last"
        )


# --- helpers ------------------------------------------------------------------------


def _queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def _rounds(values: list[float], fmt: str) -> str:
    return " / ".join(fmt.format(v) for v in values)


def _purge_outbound() -> None:
    """The sends' tasks: no worker takes them here."""
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("outbound")


if __name__ == "__main__":
    main()
