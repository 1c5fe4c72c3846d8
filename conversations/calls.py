"""Calls in a conversation's thread.

A call is filed as a message of type "call" (one per call, keyed by the provider's call
id like any message): the thread, its order, its preview, its unread count, the API's
message list and the admin show calls among the texts with nothing else to merge, and
the per-channel uniqueness of provider ids makes every event of one call land on the
same row. Its facts live in `payload["call"]`; every later event of the call (its end,
voicemail, recording, summary, transcript) adds to them, and `text` is redrawn from
them so the inbox reads "Missed call", "Call, 4 min 2 s", "Voicemail (24 s)".

Pure functions on unsaved rows: `conversations.batch` applies them inside its batch
(same locks, same queries as messages).
"""

from datetime import datetime
from typing import Any

from providers.events import CallEvent, CallStatus


def call_facts(event: CallEvent) -> dict[str, Any]:
    """What this event tells about its call, as stored in `payload["call"]`."""
    facts: dict[str, Any] = {
        "status": event.status.value if event.status else "",
        "direction": "outbound" if event.from_me else "inbound",
        "started_at": _iso(event.started_at),
        "answered_at": _iso(event.answered_at),
        "ended_at": _iso(event.ended_at),
        "duration": event.duration,
        "voicemail": event.voicemail,
        "recordings": event.recordings,
        "summary": event.summary,
        "next_steps": event.next_steps,
        "transcript": event.transcript,
    }
    return {key: value for key, value in facts.items() if value not in (None, "", [], {})}


def call_merge(stored: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The call's facts with an event's (`call_facts`) added: a status only moves
    forward (a late "ringing" never undoes an end); recordings add up; the rest fills
    in or updates."""
    merged = dict(stored)
    for key, value in facts.items():
        if key == "status":
            if (
                not stored.get("status")
                or CallStatus(value).rank > CallStatus(stored["status"]).rank
            ):
                merged["status"] = value
        elif key == "recordings":
            known = {r.get("url") for r in stored.get("recordings", [])}
            merged["recordings"] = stored.get("recordings", []) + [
                r for r in value if r.get("url") not in known
            ]
        else:
            merged[key] = value
    return merged


def call_text(facts: dict[str, Any]) -> str:
    """One line for the inbox and search: what happened, then its summary if any."""
    outbound = facts.get("direction") == "outbound"
    status = facts.get("status", "")
    duration = facts.get("duration")
    if facts.get("voicemail"):
        seconds = facts["voicemail"].get("duration")
        headline = f"Voicemail ({_length(seconds)})" if seconds else "Voicemail"
    elif status == CallStatus.MISSED:
        headline = "Missed call" if not outbound else "Outgoing call, not answered"
    elif status == CallStatus.FAILED:
        headline = "Call failed" if not outbound else "Outgoing call, rejected or failed"
    elif status == CallStatus.RINGING:
        headline = "Incoming call" if not outbound else "Outgoing call"
    else:
        headline = "Outgoing call" if outbound else "Call"
        if duration:
            headline += f", {_length(duration)}"
    summary = " ".join(facts.get("summary", []))
    return f"{headline}: {summary}" if summary else headline


def call_customer_reached_out_at(event: CallEvent) -> datetime | None:
    """When the customer reached out by this call, for the 24-hour window: Meta opens
    (or refreshes) it when the customer calls, answered or not, and when they answer a
    call from the business. None when the event says nothing of the kind (a recording,
    summary or transcript, an unanswered call of ours)."""
    if event.status is None:
        return None
    if not event.from_me:
        return call_started_at(event)
    if event.answered_at:
        return event.answered_at
    if event.status in (CallStatus.ANSWERED, CallStatus.COMPLETED):
        return event.occurred_at
    return None


def call_started_at(event: CallEvent) -> datetime:
    return event.started_at or event.occurred_at


def _later(status: str, stored: str | None) -> bool:
    return not stored or CallStatus(status).rank > CallStatus(stored).rank


def _length(seconds: int | float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
