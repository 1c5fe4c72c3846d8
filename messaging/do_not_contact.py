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

from django.db import IntegrityError, transaction
from django.db.models import Case, F, JSONField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Concat, JSONObject
from django.utils.dateparse import parse_datetime

from conversations.models import Contact, ContactIdentity, IdentityKind
from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource
from providers import Provider
from providers.phones import InvalidPhoneNumberError, valid_e164
from tenants.errors import field_error
from tenants.models import Organization

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
    with the entry that names each: one query, whatever the number of contacts.

    Each contact's phone is looked up in the list's unique index, and so is each of its
    identities (found by the identity table's contact index): the cost follows the
    contacts asked about, not the length of the list."""
    contact_ids = list(contact_ids)
    if not contact_ids:
        return {}
    rows = (
        Contact.objects.filter(organization_id=organization_id, pk__in=contact_ids)
        .annotate(listed=_first_entry(organization_id))
        .values_list("pk", "listed")
    )
    # Filtered here rather than in SQL, where the filter would evaluate the lookups a
    # second time: the rows are the contacts asked about, no more.
    return {contact_id: _listed(found) for contact_id, found in rows if found is not None}


def _first_entry(organization_id: int) -> Coalesce:
    """The first entry naming the contact at OuterRef("pk"), as a JSON object: by its
    phone, by a phone or WhatsApp identity, by a LinkedIn identity."""
    # Unordered: a value is listed once, and an order would tempt the planner to walk
    # the list by date instead of looking each value up in the unique index.
    listed = DoNotContact.objects.filter(organization_id=organization_id).order_by()
    phones = listed.filter(kind=DoNotContactKind.PHONE)
    return Coalesce(
        _entry(phones.filter(value=OuterRef("phone"))),
        _entry(phones.filter(value__in=_identity_phones())),
        _entry(listed.filter(kind=DoNotContactKind.LINKEDIN, value__in=_identity_linkedin_ids())),
        output_field=JSONField(),
    )


def _entry(entries: QuerySet) -> Subquery:
    found = entries.annotate(
        found=JSONObject(id=F("pk"), kind=F("kind"), value=F("value"), since=F("created_at"))
    )
    return Subquery(found.values("found")[:1], output_field=JSONField())


def _identity_phones() -> QuerySet:
    """The contact's phone identities, in E.164 (a wa_id is the number without "+")."""
    return (
        ContactIdentity.objects.filter(
            contact_id=OuterRef(OuterRef("pk")), kind__in=[IdentityKind.PHONE, IdentityKind.WA_ID]
        )
        .annotate(
            number=Case(
                When(kind=IdentityKind.WA_ID, then=Concat(Value("+"), F("value"))),
                default=F("value"),
            )
        )
        .values("number")
    )


def _identity_linkedin_ids() -> QuerySet:
    """The ids LinkedIn (through Unipile) knows the contact by."""
    return ContactIdentity.objects.filter(
        contact_id=OuterRef(OuterRef("pk")),
        kind=IdentityKind.PROVIDER_ID,
        channel__provider=Provider.UNIPILE,
    ).values("value")


def _listed(found: dict) -> Listed:
    since = parse_datetime(found["since"])
    if since.tzinfo is None:  # SQLite writes UTC without an offset
        since = since.replace(tzinfo=UTC)
    return Listed(entry_id=found["id"], kind=found["kind"], value=found["value"], since=since)


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
