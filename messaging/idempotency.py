"""Idempotency-Key: a client may repeat a request (a timeout, a retrying proxy) and be
sure it takes effect once.

The first request with a key runs and its answer is stored with the key, in the same
transaction as what it did. A repeat with the same key and the same request gets that
answer again, and nothing runs; the same key on a different request is a conflict.
Two requests racing with one key meet at the key's unique index: the second waits for
the first to commit, then replays its answer. A request that fails (a refused send)
stores nothing, so the client may fix it and try again with the same key.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Subquery

from conversations.erasure import ErasureSubject
from conversations.models import Message
from messaging.models import IdempotencyKey
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Organization

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Answers are kept this long (the purge task runs daily, so up to a day more).
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    message_id: int | None = None
    replayed: bool = False


def request_fingerprint(*, method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotent(
    *, organization: Organization, key: str, fingerprint: str, perform: Callable[[], Answer]
) -> Answer:
    """`perform()` once per (organization, key); its answer for every repeat."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise field_error(HEADER, f"1 to {MAX_KEY_LENGTH} characters.")
    with transaction.atomic():
        record, first = _claim(organization, key, fingerprint)
        if not first:
            return _replay(record, fingerprint)
        answer = perform()
        record.response_status, record.response_body = answer.status, answer.body
        record.message_id = answer.message_id
        record.save(update_fields=["response_status", "response_body", "message_id"])
        return answer


def _claim(organization: Organization, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """The key's row, and whether this request created it (is the first)."""
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                organization=organization,
                key=key,
                fingerprint=fingerprint,
                response_status=0,
                response_body={},
            )
    except IntegrityError:
        return IdempotencyKey.objects.get(organization=organization, key=key), False
    return record, True


def _replay(stored: IdempotencyKey, fingerprint: str) -> Answer:
    if stored.fingerprint != fingerprint:
        raise ApplicationError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "This Idempotency-Key was used for a different request.",
            details={"key": stored.key},
        )
    return Answer(stored.response_status, stored.response_body, stored.message_id, replayed=True)


def idempotency_answers_erase(subject: ErasureSubject) -> int:
    """Erasure step (conversations.erasure): the kept answers about the contact's
    messages lose their contents. The rows stay until the purge, so a client retrying
    the request still gets an answer (the message's id) and nothing is sent twice."""
    messages = Message.objects.filter(conversation__contact_id=subject.contact_id).values("pk")
    keys = IdempotencyKey.objects.filter(
        organization_id=subject.organization_id, message_id__in=Subquery(messages)
    )
    erased = 0
    for key in keys.exclude(response_body__has_key="contents_erased").only("pk", "message_id"):
        erased += IdempotencyKey.objects.filter(pk=key.pk).update(
            response_body={"id": key.message_id, "contents_erased": True}
        )
    return erased
