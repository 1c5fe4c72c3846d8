"""Consent: what changes it (keywords, the API, the admin, imports, provider refusals)
and what reads it (every send, one indexed query; batches of sends, one query).

The scope rules are in conversations.consent_models: an opt-out of `service` stops
every message of the kind, an opt-out of `marketing` only marketing; so a marketing
send is refused by either, a service send by a service opt-out only.

Changes are applied set-based and in the order given (a STOP then a START of one
contact in one batch ends subscribed, both kept in the history). A change older than
the decision in force (a keyword that arrives late) does not undo it. Only real
changes are recorded: a second STOP from someone already opted out adds nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from conversations.consent_models import (
    Consent,
    ConsentChange,
    ConsentScope,
    ConsentSource,
    ConsentState,
)
from conversations.events import consent_changed
from conversations.models import Contact, Conversation, Message
from outbox.services import events_record_many
from providers import ChannelKind, Provider, channel_kind
from tenants.errors import field_error

BOTH_SCOPES = (ConsentScope.SERVICE, ConsentScope.MARKETING)
# The scopes whose opt-out refuses a send of each scope.
BLOCKING_SCOPES = {
    ConsentScope.SERVICE: (ConsentScope.SERVICE,),
    ConsentScope.MARKETING: BOTH_SCOPES,
}
# A provider's refusal that says the recipient opted out, and what it opts them out of.
# Twilio 21610: the number texted STOP to this sender (SMS: no marketing distinction).
# WhatsApp 131050: the user stopped marketing messages (service messages still go).
# OpenPhone and Unipile document no such code (provider-contracts.md): none here.
PROVIDER_OPT_OUTS: dict[tuple[Provider, str], tuple[ConsentScope, ...]] = {
    (Provider.TWILIO, "21610"): BOTH_SCOPES,
    (Provider.WHATSAPP_CLOUD, "131050"): (ConsentScope.MARKETING,),
}


@dataclass(frozen=True)
class ConsentUpdate:
    organization_id: int
    contact_id: int
    kind: ChannelKind
    scopes: tuple[str, ...]
    state: ConsentState
    source: ConsentSource
    at: datetime
    label: str = ""
    changed_by_id: int | None = None
    message_id: int | None = None


def consent_changes_apply(*, updates: list[ConsentUpdate]) -> list[ConsentChange]:
    """Apply `updates` in order: one locking read of the rows in force, one upsert,
    one insert of the history. Returns the changes recorded."""
    keys = sorted({(u.contact_id, u.kind, scope) for u in updates for scope in u.scopes})
    if not keys:
        return []
    current = _locked_rows(keys)
    touched: dict[tuple, Consent] = {}
    changes: list[ConsentChange] = []
    for update in updates:
        for scope in update.scopes:
            key = (update.contact_id, update.kind, scope)
            row = current.get(key)
            if row is not None and (row.changed_at > update.at or row.state == update.state):
                continue  # a newer decision is in force, or nothing changes
            previous = row.state if row is not None else ConsentState.UNKNOWN
            if row is None and update.state == ConsentState.UNKNOWN:
                continue
            row = row or Consent(
                organization_id=update.organization_id,
                contact_id=update.contact_id,
                kind=update.kind,
                scope=scope,
            )
            row.state, row.source, row.changed_at = update.state, update.source, update.at
            current[key] = touched[key] = row
            changes.append(_change(update, scope, previous))
    if touched:
        Consent.objects.bulk_create(
            [touched[key] for key in sorted(touched)],  # sorted: one lock order
            update_conflicts=True,
            unique_fields=["contact", "kind", "scope"],
            update_fields=["state", "source", "changed_at"],
        )
        ConsentChange.objects.bulk_create(changes)
        events_record_many(events=[e for change in changes if (e := consent_changed(change))])
    return changes


def _locked_rows(keys: list[tuple]) -> dict[tuple, Consent]:
    rows = (
        Consent.objects.select_for_update()
        .filter(contact_id__in={k[0] for k in keys}, kind__in={k[1] for k in keys})
        .order_by("contact_id", "kind", "scope")
    )
    wanted = set(keys)
    return {key: row for row in rows if (key := (row.contact_id, row.kind, row.scope)) in wanted}


def _change(update: ConsentUpdate, scope: str, previous: str) -> ConsentChange:
    return ConsentChange(
        organization_id=update.organization_id,
        contact_id=update.contact_id,
        kind=update.kind,
        scope=scope,
        state=update.state,
        previous_state=previous,
        source=update.source,
        changed_by_id=update.changed_by_id,
        label=update.label[:200],
        message_id=update.message_id,
        changed_at=update.at,
    )


@transaction.atomic
def consent_set(
    *,
    contact: Contact,
    kind: str,
    scope: str,
    state: str,
    source: ConsentSource,
    changed_by=None,
    label: str = "",
) -> Consent | None:
    """Set one consent by hand (API, admin, import). Returns the row in force (None
    while it is unknown and never stored)."""
    kind = _valid(kind, ChannelKind, "kind")
    scope = _valid(scope, ConsentScope, "scope")
    state = _valid(state, ConsentState, "state")
    update = ConsentUpdate(
        organization_id=contact.organization_id,
        contact_id=contact.pk,
        kind=kind,
        scopes=(scope,),
        state=state,
        source=ConsentSource(source),
        at=timezone.now(),
        label=label,
        changed_by_id=changed_by.pk if changed_by is not None else None,
    )
    consent_changes_apply(updates=[update])
    return Consent.objects.filter(contact=contact, kind=kind, scope=scope).first()


def _valid(value: str, choices, name: str):
    if value not in {choice.value for choice in choices}:
        allowed = ", ".join(choice.value for choice in choices)
        raise field_error(name, f"One of: {allowed}.", code="invalid_choice")
    return choices(value)


def refusal_opt_outs(
    *, conversation: Conversation, message: Message, error_code: str, at: datetime
) -> list[ConsentUpdate]:
    """The consent change a refusal of `message` implies, if its code says the
    recipient opted out (PROVIDER_OPT_OUTS); [] otherwise."""
    provider = conversation.channel.provider
    scopes = PROVIDER_OPT_OUTS.get((Provider(provider), str(error_code)))
    if scopes is None:
        return []
    update = ConsentUpdate(
        organization_id=message.organization_id,
        contact_id=conversation.contact_id,
        kind=channel_kind(provider),
        scopes=scopes,
        state=ConsentState.OPTED_OUT,
        source=ConsentSource.PROVIDER_ERROR,
        at=at,
        label=f"{provider} {error_code}",
        message_id=message.pk,
    )
    return [update]


# --- reads --------------------------------------------------------------------------


def contacts_opted_out(*, contact_ids: Iterable[int], kind: str, scope: str) -> set[int]:
    """Which of these contacts a send of `scope` on `kind` must skip: one query, for
    preparing many sends at once (campaigns)."""
    ids = set(contact_ids)
    if not ids:
        return set()
    return set(
        Consent.objects.filter(
            contact_id__in=ids,
            kind=kind,
            scope__in=BLOCKING_SCOPES[ConsentScope(scope)],
            state=ConsentState.OPTED_OUT,
        ).values_list("contact_id", flat=True)
    )


def consent_of(*, contact: Contact) -> list[dict]:
    """Every (kind, scope) of the contact with its state, unknown ones included, in a
    fixed order (the API and admin show all six)."""
    stored = {(c.kind, c.scope): c for c in contact.consents.all()}
    return [
        {
            "kind": kind.value,
            "scope": scope.value,
            "state": row.state if row else ConsentState.UNKNOWN.value,
            "source": row.source if row else None,
            "since": row.changed_at if row else None,
        }
        for kind in ChannelKind
        for scope in ConsentScope
        for row in [stored.get((kind.value, scope.value))]
    ]
