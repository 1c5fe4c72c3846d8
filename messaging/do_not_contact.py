"""The organization's do-not-contact list: adding, removing, and the check every send
makes (messaging.services) before anything is queued for the provider.

A contact is on the list when its phone number, the phone or WhatsApp id of one of its
identities, or the LinkedIn id of one of its LinkedIn (Unipile) identities is listed by
the contact's organization. The check is one query, however many contacts are asked
about (`do_not_contact_matches`): a send asks about one, a campaign preparing a batch
asks about all of them at once.

Importing a CSV file lives in messaging.do_not_contact_import.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, connection, transaction
from django.utils.dateparse import parse_datetime

from conversations.models import Contact, ContactIdentity, IdentityKind
from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource
from providers import Provider
from providers.phones import InvalidPhoneNumberError, valid_e164
from tenants.errors import field_error
from tenants.models import Channel, Organization

MAX_LINKEDIN_ID_LENGTH = 255


@dataclass(frozen=True)
class Listed:
    """Why a contact may not be contacted: the listed value that names them."""

    entry_id: int
    kind: str
    value: str
    since: datetime

    def as_details(self) -> dict:
        return {
            "kind": self.kind,
            "value": self.value,
            "since": self.since.isoformat().replace("+00:00", "Z"),
        }


# --- the check ------------------------------------------------------------------------


def do_not_contact_matches(*, organization_id: int, contact_ids) -> dict[int, Listed]:
    """The contacts among `contact_ids` (of this organization) that are on its list,
    with the entry that names each: one query, whatever the number of contacts (a send
    asks about one through messaging.standing, a campaign's batch about all of them)."""
    sql, params = listed_sql(organization_id=organization_id, contact_ids=contact_ids)
    if not sql:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return listed_by_contact(cursor.fetchall())


def listed_sql(*, organization_id: int, contact_ids) -> tuple[str, list]:
    """The list's entries naming the contacts, as rows ("listed", contact id, rank,
    entry id, kind, value, created_at): by the contact's phone (rank 0), a phone or
    WhatsApp identity (1), a LinkedIn identity (2). Plain SQL that PostgreSQL and
    SQLite both run, each value looked up in the list's unique index (organization,
    kind, value): built by the ORM, the same lookups cost Django about 10 ms to compile
    per send (bench/consent.py), many times what the database spends on them. ("", [])
    when there is no contact to ask about."""
    ids = sorted(set(contact_ids))
    if not ids:
        return "", []
    marks = ", ".join(["%s"] * len(ids))
    return _LISTED.format(ids=marks), [
        organization_id,
        *ids,
        organization_id,
        *ids,
        organization_id,
    ]


def listed_by_contact(rows) -> dict[int, Listed]:
    """listed_sql's rows, the first entry (by rank) of each contact."""
    found: dict[int, tuple] = {}
    for _, contact_id, rank, *entry in rows:
        if contact_id not in found or rank < found[contact_id][0]:
            found[contact_id] = (rank, *entry)
    return {
        contact_id: Listed(entry_id=entry_id, kind=kind, value=value, since=aware(since))
        for contact_id, (_, entry_id, kind, value, since) in found.items()
    }


def aware(value) -> datetime:
    """A datetime read by a raw cursor: SQLite hands text, in UTC without an offset."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# A wa_id is the number without its "+"; a LinkedIn id is a provider id on Unipile. Only
# names and choices from the models are formatted in (once, at import); values are
# parameters. {ids} is a placeholder per contact id.
_LISTED = f"""
    SELECT 'listed', named.contact_id, named.rank, d.id, d.kind, d.value, d.created_at
    FROM (
        SELECT c.id AS contact_id, 0 AS rank, '{DoNotContactKind.PHONE}' AS kind,
            c.phone AS value
        FROM {Contact._meta.db_table} c
        WHERE c.organization_id = %s AND c.id IN ({{ids}}) AND c.phone <> ''
        UNION ALL
        SELECT i.contact_id, CASE WHEN ch.provider = '{Provider.UNIPILE}'
                AND i.kind = '{IdentityKind.PROVIDER_ID}' THEN 2 ELSE 1 END,
            CASE WHEN i.kind = '{IdentityKind.PROVIDER_ID}' THEN '{DoNotContactKind.LINKEDIN}'
                ELSE '{DoNotContactKind.PHONE}' END,
            CASE WHEN i.kind = '{IdentityKind.WA_ID}' THEN '+' || i.value ELSE i.value END
        FROM {ContactIdentity._meta.db_table} i
        JOIN {Contact._meta.db_table} ic ON ic.id = i.contact_id
        JOIN {Channel._meta.db_table} ch ON ch.id = i.channel_id
        WHERE ic.organization_id = %s AND i.contact_id IN ({{ids}}) AND (
            i.kind IN ('{IdentityKind.PHONE}', '{IdentityKind.WA_ID}')
            OR (i.kind = '{IdentityKind.PROVIDER_ID}' AND ch.provider = '{Provider.UNIPILE}')
        )
    ) named
    JOIN {DoNotContact._meta.db_table} d
        ON d.organization_id = %s AND d.kind = named.kind AND d.value = named.value
"""  # noqa: S608


# --- adding and removing ----------------------------------------------------------------


def do_not_contact_normalize(*, kind: str, value: str, default_region: str | None = None) -> str:
    """The value as the list keeps it: a phone number in E.164 (valid in its region),
    a LinkedIn id as given. Raises InvalidPhoneNumberError / ValueError."""
    if kind == DoNotContactKind.PHONE:
        return valid_e164(value, default_region=default_region)
    if kind == DoNotContactKind.LINKEDIN:
        text = (value or "").strip()
        if not text:
            raise ValueError("A LinkedIn id is required.")
        if len(text) > MAX_LINKEDIN_ID_LENGTH or any(c.isspace() for c in text):
            raise ValueError(f"{text[:40]!r} is not a LinkedIn id (no spaces, at most 255).")
        if not text.isprintable():
            raise ValueError("A LinkedIn id holds printable characters only.")
        return text
    raise ValueError(f"Unknown kind {kind!r}.")


def do_not_contact_add(
    *,
    organization: Organization,
    kind: str,
    value: str,
    note: str = "",
    source: str,
    added_by=None,
    default_region: str | None = None,
) -> DoNotContact:
    """Put one number or LinkedIn id on the list. 400 on `value` when it is not one,
    or is listed already."""
    try:
        normalized = do_not_contact_normalize(kind=kind, value=value, default_region=default_region)
    except (InvalidPhoneNumberError, ValueError) as exc:
        raise field_error("value", str(exc), code="invalid") from exc
    entry = DoNotContact(
        organization=organization,
        kind=kind,
        value=normalized,
        note=note.strip(),
        source=DoNotContactSource(source),
        added_by=added_by,
    )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        raise field_error(
            "value", f"{normalized} is on the list already.", code="already_listed"
        ) from exc
    return entry


def do_not_contact_remove(*, entry: DoNotContact) -> None:
    """Take a value off the list: sends to it are allowed again."""
    entry.delete()
