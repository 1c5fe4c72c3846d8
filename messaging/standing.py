"""Whether a contact may be contacted, read in one query (messaging.checks, check 4):
is any value naming them on the organization's do-not-contact list, and which scopes
of the channel's kind have they opted out of.

One statement for both, for one contact (a send) or many (a batch send), in plain SQL
that PostgreSQL and SQLite both run: each part is a lookup in its unique index (the
list's (organization, kind, value), consent's (contact, kind, scope)). The list's part
is messaging.do_not_contact's own, the one rule of what names a contact.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from conversations.consent import BLOCKING_SCOPES
from conversations.consent_models import Consent, ConsentScope, ConsentState
from messaging.do_not_contact import Listed, aware, listed_by_contact, listed_sql
from providers import channel_kind
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
    return contacts_standing(
        organization_id=organization_id,
        contact_ids=[contact_id],
        channel=channel,
        listed=listed,
        consent=consent,
    )[contact_id]


def contacts_standing(
    *, organization_id: int, contact_ids, channel: Channel, listed: bool, consent: bool
) -> dict[int, Standing]:
    """The same for many contacts of one organization on one channel (a batch send):
    one query whatever their number, the list's part by messaging.do_not_contact's
    listed_sql, consent's by its (contact, kind, scope) index."""
    ids = sorted(set(contact_ids))
    kind = channel_kind(channel.provider).value
    parts, params = [], []
    if listed:
        sql, sql_params = listed_sql(organization_id=organization_id, contact_ids=ids)
        parts.append(sql)
        params += sql_params
    if consent and ids:
        parts.append(_CONSENT.format(ids=", ".join(["%s"] * len(ids))))
        params += [*ids, kind]
    rows = []
    if any(parts):
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(part for part in parts if part), params)
            rows = cursor.fetchall()
    entries = listed_by_contact(row for row in rows if row[0] == "listed")
    opt_outs: dict[int, dict[str, OptOut]] = {}
    for what, contact_id, _, _, scope, source, at in rows:
        if what == "opted_out":
            opt_outs.setdefault(contact_id, {})[scope] = OptOut(scope, aware(at), source)
    return {pk: Standing(kind, listed=entries.get(pk), opt_outs=opt_outs.get(pk, {})) for pk in ids}


# Shaped as listed_sql's rows, to be read in the same statement; {ids}: a placeholder
# per contact id.
_CONSENT = f"""
    SELECT 'opted_out', s.contact_id, 0, s.id, s.scope, s.source, s.changed_at
    FROM {Consent._meta.db_table} s
    WHERE s.contact_id IN ({{ids}}) AND s.kind = %s AND s.state = '{ConsentState.OPTED_OUT}'
"""  # noqa: S608
