"""Forget a contact (GDPR art. 17, LGPD art. 18): `contact_erase`.

What it does, step by step, each step idempotent and recorded on the `ContactErasure`
so that a crash resumes where it stopped (`contact_erasure_resume`, the periodic
"Resume contact erasures", or asking again):

1. `contact`: in one short transaction (the contact's conversations locked in id order,
   the order webhook processing locks them in) the identities are deleted (not blanked:
   the unique identity must not match again), the name and phone are blanked (the
   contact no longer matches by phone), each conversation loses its preview and
   provider reference, reactions are deleted, notes lose their text (staff notes about
   a person are their personal data; the rows stay for activity counts), and the
   admin's history names the objects by id only, and the outbox forgets the events
   of the contact and their conversations (conversations.events). From then on a
   message from the same number creates a new contact.
2. `messages`: every message of those conversations loses its contents (text, media,
   payload, context, revisions, error texts) in batches of ERASURE_BATCH_SIZE, one
   short UPDATE each, walking the thread's index. The row stays (direction, type,
   status, times, provider id: reports count them, and a late status or redelivery
   is still recognised instead of filed again). The full-text document is generated
   from the text, so it empties with it.
3. The steps registered by higher apps (`erasure_step_register`, called from their
   AppConfig.ready()): webhooks redacts the raw bodies that mention the contact,
   messaging the answers kept for idempotency keys. A lower app cannot import a higher
   one (DESIGN.md), so the higher apps come to this registry rather than this module
   going to them; the registry holds functions, the durable state is the record.
4. `complete`: step 1 once more (a webhook applied while steps 2-3 ran may have named
   the contact again), the counts, and the identifiers kept for the steps are emptied:
   from then on the record holds only the keyed hash.

What the later steps search raw payloads for (digits of the phone and WhatsApp id,
provider ids, the name as a JSON string) is kept, encrypted, in
`pending_identifiers` while the erasure runs, because step 1 has already removed it
from the contact.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.events import contact_events_erase
from conversations.models import (
    Contact,
    ContactErasure,
    ContactIdentity,
    Conversation,
    ConversationNote,
    ErasureSource,
    IdentityKind,
    Message,
    MessageReaction,
    PendingStatusUpdate,
)
from providers.phones import InvalidPhoneNumberError, to_e164
from tenants.models import Organization

logger = logging.getLogger(__name__)

# What a message keeps of its contents once erased: nothing.
BLANK_CONTENTS = {
    "text": "",
    "media": {},
    "payload": {},
    "context": {},
    "revisions": [],
    "error_title": "",
    "status_details": {},
    "error_history": [],
}
# Phone digits shorter than this are not searched for in raw payloads: a malformed
# number of a few digits would match unrelated webhooks.
MIN_DIGITS = 7


@dataclass(frozen=True)
class ErasureSubject:
    """What an erasure step needs: whose data, and the strings that identify them in
    raw payloads (`needles`: digits of phone numbers, provider ids, the name quoted as
    JSON writes it). Steps find the contact's messages through `contact_id` (its
    conversations are kept, so the link survives step 1)."""

    erasure_id: int
    organization_id: int
    contact_id: int
    requested_at: datetime
    needles: tuple[str, ...]


ErasureStep = Callable[[ErasureSubject], int]
_STEPS: dict[str, ErasureStep] = {}


def erasure_step_register(name: str, step: ErasureStep) -> None:
    """Add a step to every erasure (from an AppConfig.ready()). It must be idempotent
    and keep its transactions short; it returns how many rows it erased."""
    if name in ("contact", "messages", "complete"):
        raise ValueError(f"{name!r} is a step of conversations itself.")
    _STEPS[name] = step


def erasure_steps() -> list[str]:
    return ["contact", "messages", *_STEPS, "complete"]


def identifier_hash(value: str) -> str:
    """The keyed hash (HMAC-SHA256) an erasure record keeps of an identifier."""
    key = (
        settings.ERASURE_HASH_KEY.encode()
        or hashlib.sha256(b"switchboard.erasure:" + settings.SECRET_KEY.encode()).digest()
    )
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def normalized_identifier(value: str) -> str:
    """A phone number in E.164 whatever way it was written; anything else as given."""
    try:
        return to_e164(value)
    except InvalidPhoneNumberError:
        return value.strip()


def contact_erase(
    *,
    organization: Organization,
    contact_id: int,
    requested_by=None,
    source: str = ErasureSource.API,
) -> ContactErasure:
    """Forget the organization's contact `contact_id` (Contact.DoesNotExist if it is
    not theirs). Asking again for a contact being or already erased resumes or returns
    its record: nothing is erased twice, nothing is left half done."""
    erasure = _erasure_start(
        organization=organization,
        contact_id=contact_id,
        requested_by=requested_by,
        source=source,
    )
    return contact_erasure_resume(erasure_id=erasure.pk)


def contact_erasure_resume(*, erasure_id: int) -> ContactErasure:
    """Run the steps of an erasure that are not done yet."""
    erasure = ContactErasure.objects.get(pk=erasure_id)
    if erasure.completed_at is not None:
        return erasure
    subject = ErasureSubject(
        erasure_id=erasure.pk,
        organization_id=erasure.organization_id,
        contact_id=erasure.contact_id,
        requested_at=erasure.requested_at,
        needles=tuple(json.loads(erasure.pending_identifiers or "[]")),
    )
    runners = {"contact": _erase_contact, "messages": _erase_messages, **_STEPS}
    for name in erasure_steps():
        if name in erasure.steps_done:
            continue
        if name == "complete":
            return _erasure_complete(erasure, subject)
        count = runners[name](subject)
        erasure = _step_done(erasure.pk, name, count)
    return erasure


def contact_erasures_resume_stalled(*, older_than_seconds: int = 600) -> int:
    """Resume erasures interrupted (a worker or request died) longer ago than this."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = list(
        ContactErasure.objects.filter(completed_at=None, requested_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for erasure_id in stalled:
        contact_erasure_resume(erasure_id=erasure_id)
    return len(stalled)


def _erasure_start(*, organization, contact_id, requested_by, source) -> ContactErasure:
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(organization=organization, pk=contact_id)
        existing = ContactErasure.objects.filter(contact=contact).order_by("-pk").first()
        if existing is not None and (existing.completed_at is None or _is_blank(contact)):
            return existing
        kind, value = _identifier(contact)
        return ContactErasure.objects.create(
            organization=organization,
            contact=contact,
            identifier_kind=kind,
            identifier_hash=identifier_hash(value),
            requested_by=requested_by if getattr(requested_by, "pk", None) else None,
            source=source,
            pending_identifiers=json.dumps(_needles(contact)),
        )


def _is_blank(contact: Contact) -> bool:
    return not contact.name and not contact.phone and not contact.identities.exists()


def _identifier(contact: Contact) -> tuple[str, str]:
    """What identified the person: their phone, else their first provider identity."""
    if contact.phone:
        return IdentityKind.PHONE.value, normalized_identifier(contact.phone)
    order = [IdentityKind.PHONE, IdentityKind.WA_ID, IdentityKind.USER_ID, IdentityKind.PROVIDER_ID]
    identities = sorted(contact.identities.all(), key=lambda i: (order.index(i.kind), i.pk))
    if identities:
        kind, value = identities[0].kind, identities[0].value
        return kind, normalized_identifier(value) if kind == IdentityKind.WA_ID else value
    return "contact", f"contact:{contact.pk}"


def _needles(contact: Contact) -> list[str]:
    """What identifies the contact inside raw payloads. Phone numbers as bare digits:
    that finds "+16505551234", Meta's "16505551234" and Twilio's form-encoded
    "%2B16505551234" alike. The name only as a whole JSON string (with and without
    escapes), so that a common first name does not match strangers' webhooks."""
    needles = set()
    phones = [contact.phone] + [
        i.value for i in contact.identities.all() if i.kind in (IdentityKind.PHONE, "wa_id")
    ]
    for phone in phones:
        digits = "".join(ch for ch in phone or "" if ch.isdigit())
        if len(digits) >= MIN_DIGITS:
            needles.add(digits)
    for identity in contact.identities.all():
        if identity.kind in (IdentityKind.USER_ID, IdentityKind.PROVIDER_ID) and identity.value:
            needles.add(identity.value)
    if contact.name.strip():
        needles.add(json.dumps(contact.name))
        needles.add(json.dumps(contact.name, ensure_ascii=False))
    return sorted(needles)


def _step_done(erasure_id: int, name: str, count: int) -> ContactErasure:
    with transaction.atomic():
        erasure = ContactErasure.objects.select_for_update().get(pk=erasure_id)
        if name not in erasure.steps_done:
            erasure.steps_done = [*erasure.steps_done, name]
            erasure.counts = {**erasure.counts, name: count}
            erasure.save(update_fields=["steps_done", "counts"])
    logger.info("Erasure #%s: step %s erased %s", erasure_id, name, count)
    return erasure


def _erasure_complete(erasure: ContactErasure, subject: ErasureSubject) -> ContactErasure:
    with transaction.atomic():
        again = _erase_contact(subject)
        erasure = ContactErasure.objects.select_for_update().get(pk=erasure.pk)
        if erasure.completed_at is not None:  # a second run (request, sweep) finished it
            return erasure
        erasure.counts = {**erasure.counts, "contact": erasure.counts.get("contact", 0) + again}
        erasure.steps_done = [*erasure.steps_done, "complete"]
        erasure.pending_identifiers = ""
        erasure.completed_at = timezone.now()
        erasure.save(update_fields=["counts", "steps_done", "pending_identifiers", "completed_at"])
    return erasure


@transaction.atomic
def _erase_contact(subject: ErasureSubject) -> int:
    """Everything of the contact but the contents of their messages, in one short
    transaction. Returns how many rows it changed or deleted."""
    conversations = list(
        Conversation.objects.select_for_update()
        .filter(contact_id=subject.contact_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    changed = ContactIdentity.objects.filter(contact_id=subject.contact_id).delete()[0]
    changed += (
        Contact.objects.filter(pk=subject.contact_id)
        .exclude(name="", phone="")
        .update(name="", phone="", updated_at=timezone.now())
    )
    changed += (
        Conversation.objects.filter(pk__in=conversations)
        .exclude(last_message_preview="", provider_conversation_ref="")
        .update(last_message_preview="", provider_conversation_ref="")
    )
    changed += MessageReaction.objects.filter(conversation_id__in=conversations).delete()[0]
    changed += (
        ConversationNote.objects.filter(conversation_id__in=conversations)
        .exclude(text="")
        .update(text="")
    )
    changed += _erase_pending_statuses(subject)
    changed += contact_events_erase(
        organization_id=subject.organization_id,
        contact_id=subject.contact_id,
        conversation_ids=conversations,
    )
    _anonymize_admin_history(subject.contact_id, conversations)
    return changed


def _erase_pending_statuses(subject: ErasureSubject) -> int:
    """Statuses waiting for a message we never saw may name the recipient."""
    if not subject.needles:
        return 0
    mentions = Q()
    for needle in subject.needles:
        mentions |= Q(details__icontains=needle)
    return PendingStatusUpdate.objects.filter(
        mentions, channel__organization_id=subject.organization_id
    ).delete()[0]


def _anonymize_admin_history(contact_id: int, conversation_ids: list[int]) -> None:
    """The admin's history names objects by their str(), which is the contact's name
    or phone: name them by id instead."""
    for model, ids in ((Contact, [contact_id]), (Conversation, conversation_ids)):
        content_type = ContentType.objects.get_for_model(model)
        for object_id in ids:
            LogEntry.objects.filter(content_type=content_type, object_id=str(object_id)).exclude(
                object_repr=f"{model._meta.verbose_name} {object_id} (erased)"
            ).update(object_repr=f"{model._meta.verbose_name} {object_id} (erased)")


def _erase_messages(subject: ErasureSubject) -> int:
    conversations = Conversation.objects.filter(contact_id=subject.contact_id).values_list(
        "pk", flat=True
    )
    now = timezone.now()
    return sum(
        messages_blank_in_conversation(conversation_id=conversation_id, now=now)
        for conversation_id in conversations
    )


def messages_blank_in_conversation(
    *,
    conversation_id: int,
    now: datetime,
    before: datetime | None = None,
    stop_at_erased: bool = False,
    batch_size: int | None = None,
) -> int:
    """Blank the contents of a conversation's messages (those written before `before`,
    if given), newest first along the thread's index, one short UPDATE per batch.

    `stop_at_erased`: stop at a batch that was blanked already (retention: what lies
    behind it was blanked by an earlier run). Returns how many messages were blanked."""
    batch_size = batch_size or settings.ERASURE_BATCH_SIZE
    blanked, cursor = 0, None
    while True:
        rows = Message.objects.filter(conversation_id=conversation_id)
        if before is not None:
            rows = rows.filter(occurred_at__lt=before)
        if cursor is not None:
            occurred, pk = cursor
            rows = rows.filter(Q(occurred_at__lt=occurred) | Q(occurred_at=occurred, pk__lt=pk))
        batch = list(
            rows.order_by("-occurred_at", "-pk").values_list(
                "pk", "occurred_at", "contents_erased_at"
            )[:batch_size]
        )
        if not batch:
            return blanked
        todo = [pk for pk, _, erased_at in batch if erased_at is None]
        if not todo and stop_at_erased:
            return blanked
        if todo:
            blanked += Message.objects.filter(pk__in=todo).update(
                **BLANK_CONTENTS, contents_erased_at=now
            )
        cursor = (batch[-1][1], batch[-1][0])  # (occurred_at, pk)
        if len(batch) < batch_size:
            return blanked


def contact_erasure_find(*, organization: Organization, identifier: str) -> list[ContactErasure]:
    """The organization's erasures of this identifier (a phone number in any format,
    or a provider id): to answer "did we forget this person, and when?"."""
    return list(
        ContactErasure.objects.filter(
            organization=organization,
            identifier_hash=identifier_hash(normalized_identifier(identifier)),
        ).order_by("-requested_at")
    )


def contacts_by_identifier(*, organization: Organization, identifier: str) -> list[Contact]:
    """The organization's contacts with this phone number (in any format: matched on
    the contact's phone and on phone or WhatsApp identities) or provider id."""
    value = normalized_identifier(identifier)
    digits = value.removeprefix("+")
    matches = Q(phone=value) | Q(identities__value__in={value, digits})
    return list(
        Contact.objects.filter(matches, organization=organization).distinct().order_by("pk")
    )
