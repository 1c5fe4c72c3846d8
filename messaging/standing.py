"""Whether a contact may be contacted, read in one query (messaging.checks, check 4):
is any value naming them on the organization's do-not-contact list, and which scopes
of the channel's kind have they opted out of.

One statement for both, in plain SQL that PostgreSQL and SQLite both run: each part is
one lookup in its unique index (the list's (organization, kind, value), consent's
(contact, kind, scope)). Built by the ORM, the list's three nested subqueries cost
Django about 10 ms to compile per send (bench/consent.py), many times what the
database spends answering them. Batches keep their own set-based reads
(do_not_contact_matches, contacts_opted_out).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from django.db import connection
from django.utils.dateparse import parse_datetime

from conversations.consent import BLOCKING_SCOPES
from conversations.consent_models import Consent, ConsentScope, ConsentState
from conversations.models import Contact, ContactIdentity, IdentityKind
from messaging.do_not_contact import Listed, do_not_contact_matches
from messaging.models import DoNotContact, DoNotContactKind
from providers import Provider, channel_kind
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel


@dataclass(frozen=True)
class OptOut:
    scope: str
    since: datetime
    source: str


@dataclass(frozen=True)
class Standing:
    """What the list and consent say of one contact on one channel kind."""

    kind: str
    listed: Listed | None = None
    opt_outs: dict[str, OptOut] = field(default_factory=dict)

    def check_listed(self) -> None:
        if self.listed is None:
            return
        raise ApplicationError(
            ErrorCode.CONTACT_DO_NOT_CONTACT,
            f"{self.listed.value} is on the organization's do-not-contact list: "
            "nothing is sent to it.",
            details=self.listed.as_details(),
        )

    def check_consent(self, scope: ConsentScope) -> None:
        found = [self.opt_outs[s] for s in BLOCKING_SCOPES[scope] if s in self.opt_outs]
        if not found:
            return
        opt_out = min(found, key=lambda o: o.since)
        raise ApplicationError(
            ErrorCode.CONTACT_OPTED_OUT,
            f"The contact opted out of {opt_out.scope} messages on {self.kind}.",
            details={
                "kind": self.kind,
                "scope": opt_out.scope,
                "since": opt_out.since.isoformat().replace("+00:00", "Z"),
                "source": opt_out.source,
            },
        )


def contact_standing(
    *, organization_id: int, contact_id: int, channel: Channel, listed: bool, consent: bool
) -> Standing:
    """The list (`listed`) and consent (`consent`) for this contact: one query."""
    kind = channel_kind(channel.provider).value
    parts, params = [], []
    if listed:
        parts += [_sql()["phone"], _sql()["linkedin"]]
        params += [organization_id, contact_id, contact_id, organization_id, contact_id]
    if consent:
        parts.append(_sql()["consent"])
        params += [contact_id, kind]
    if not parts:
        return Standing(kind)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    found = [row for row in rows if row[0] == "listed"]
    return Standing(
        kind,
        listed=_listed(found[0]) if found else None,
        opt_outs={
            scope: OptOut(scope, _aware(at), source)
            for what, _, scope, source, at in rows
            if what == "opted_out"
        },
    )


def _listed(row) -> Listed:
    _, entry_id, kind, value, since = row
    return Listed(entry_id=entry_id, kind=kind, value=value, since=_aware(since))


def _aware(value) -> datetime:
    # SQLite hands a raw cursor text, in UTC without an offset.
    moment = parse_datetime(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cache
def _sql() -> dict[str, str]:
    listed, contact = DoNotContact._meta.db_table, Contact._meta.db_table
    identity, channel = ContactIdentity._meta.db_table, Channel._meta.db_table
    consent = Consent._meta.db_table
    wa_id, phone, provider_id = IdentityKind.WA_ID, IdentityKind.PHONE, IdentityKind.PROVIDER_ID
    # A wa_id is the number without its "+"; a LinkedIn id is a provider id on Unipile.
    # Only names and choices from the models are formatted in; values are parameters.
    return {
        "phone": f"""SELECT * FROM (
            SELECT 'listed', d.id, d.kind, d.value, d.created_at FROM {listed} d
            WHERE d.organization_id = %s AND d.kind = '{DoNotContactKind.PHONE}'
            AND d.value IN (
                SELECT c.phone FROM {contact} c WHERE c.id = %s AND c.phone <> ''
                UNION ALL
                SELECT CASE WHEN i.kind = '{wa_id}' THEN '+' || i.value ELSE i.value END
                FROM {identity} i WHERE i.contact_id = %s AND i.kind IN ('{phone}', '{wa_id}')
            ) LIMIT 1) AS by_phone""",  # noqa: S608
        "linkedin": f"""SELECT * FROM (
            SELECT 'listed', d.id, d.kind, d.value, d.created_at FROM {listed} d
            WHERE d.organization_id = %s AND d.kind = '{DoNotContactKind.LINKEDIN}'
            AND d.value IN (
                SELECT i.value FROM {identity} i JOIN {channel} ch ON ch.id = i.channel_id
                WHERE i.contact_id = %s AND i.kind = '{provider_id}'
                AND ch.provider = '{Provider.UNIPILE}'
            ) LIMIT 1) AS by_linkedin""",  # noqa: S608
        "consent": f"""SELECT 'opted_out', s.id, s.scope, s.source, s.changed_at
            FROM {consent} s WHERE s.contact_id = %s AND s.kind = %s
            AND s.state = '{ConsentState.OPTED_OUT}'""",  # noqa: S608
    }


def contacts_standing(
    *, organization_id: int, contact_ids, channel: Channel, listed: bool, consent: bool
) -> dict[int, Standing]:
    """`contact_standing` for many contacts of one organization on one channel (a
    batch send): two queries whatever their number, the list's by
    `do_not_contact_matches`, consent's by its (contact, kind, scope) index."""
    ids = set(contact_ids)
    kind = channel_kind(channel.provider).value
    entries = {}
    if listed:
        entries = do_not_contact_matches(organization_id=organization_id, contact_ids=ids)
    opt_outs: dict[int, dict[str, OptOut]] = {}
    if consent and ids:
        rows = Consent.objects.filter(
            contact_id__in=ids, kind=kind, state=ConsentState.OPTED_OUT
        ).values_list("contact_id", "scope", "source", "changed_at")
        for contact_id, scope, source, at in rows:
            opt_outs.setdefault(contact_id, {})[scope] = OptOut(scope, _aware(at), source)
    return {pk: Standing(kind, listed=entries.get(pk), opt_outs=opt_outs.get(pk, {})) for pk in ids}
