"""The inbox's durations over a span: first response and resolution (median, p90) and
the share answered within the SLA, grouped by day, agent or channel (or not at all).

Medians and percentiles do not add up across days, so they are not rolled up: each
episode keeps its moments (reports.inbox_models.ConversationFact) and the percentiles
are computed over the span's episodes when asked, by PostgreSQL's percentile_cont (an
index finds the span's episodes; a 90-day span of an organization is thousands of rows,
not millions). On SQLite the same figures are computed in Python, interpolating as
percentile_cont does.

- First response: over episodes whose first customer message falls in the span (on
  its local day), from it to the first response; unanswered ones have none.
- Answered within SLA: of those episodes, the share answered within `sla_seconds`,
  out of those decided: answered, or unanswered for longer than the SLA already (an
  unanswered one still inside its SLA counts neither way yet).
- Resolution: over episodes closed in the span (on the day they closed), from their
  opening (or reopening) to their close.
"""

import math
from datetime import datetime

from django.db import connection
from django.utils import timezone

from reports.inbox_models import ConversationFact
from reports.ranges import DateRange, local_day

DURATIONS = (
    "first_response_median_s",
    "first_response_p90_s",
    "resolution_median_s",
    "resolution_p90_s",
    "answered_within_sla_pct",
)
_COLUMN = {"agent": "agent_id", "channel": "channel_id"}
_TABLE = ConversationFact._meta.db_table


def durations(
    *,
    organization_id: int,
    span: DateRange,
    sla_seconds: int,
    by: str | None = None,
    channel_id: int | None = None,
    agent_id: int | None = None,
    now: datetime | None = None,
) -> dict:
    """{group key: {figure: value}}; `by` is "day", "agent", "channel" or None (the key
    is then None). Groups without episodes are absent."""
    now = now or timezone.now()
    args = (organization_id, span, sla_seconds, by, channel_id, agent_id, now)
    if connection.vendor == "postgresql":
        found = _responses_sql(*args)
        closed = _resolutions_sql(*args)
    else:
        found, closed = _in_python(*args)
    return {
        key: {**dict.fromkeys(DURATIONS), **found.get(key, {}), **closed.get(key, {})}
        for key in set(found) | set(closed)
    }


def _where(organization_id, span, channel_id, agent_id, moment: str) -> tuple[str, list]:
    sql = f"organization_id = %s AND {moment} >= %s AND {moment} < %s"
    params = [organization_id, span.start_at, span.end_before]
    if channel_id is not None:
        sql, params = sql + " AND channel_id = %s", [*params, channel_id]
    if agent_id is not None:
        sql, params = sql + " AND agent_id = %s", [*params, agent_id]
    return sql, params


def _key_sql(by: str | None, span: DateRange, moment: str) -> tuple[str, list]:
    if by == "day":
        return f"({moment} AT TIME ZONE %s)::date", [span.tz.key]
    return (_COLUMN[by], []) if by else ("NULL", [])


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _responses_sql(organization_id, span, sla, by, channel_id, agent_id, now) -> dict:
    key, key_params = _key_sql(by, span, "first_customer_at")
    where, params = _where(organization_id, span, channel_id, agent_id, "first_customer_at")
    wait = "EXTRACT(EPOCH FROM first_response_at - first_customer_at)::float8"
    answered = "first_response_at IS NOT NULL"
    rows = _rows(
        f"SELECT {key}, "  # noqa: S608 - constants and column names only
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {wait}) FILTER (WHERE {answered}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {wait}) FILTER (WHERE {answered}), "
        f"count(*) FILTER (WHERE {answered} AND {wait} <= %s), "
        f"count(*) FILTER (WHERE {answered} OR EXTRACT(EPOCH FROM %s - first_customer_at) > %s) "
        f"FROM {_TABLE} WHERE {where} GROUP BY 1",
        [*key_params, sla, now, sla, *params],
    )
    return {
        row[0]: {
            "first_response_median_s": row[1],
            "first_response_p90_s": row[2],
            "answered_within_sla_pct": _pct(row[3], row[4]),
        }
        for row in rows
    }


def _resolutions_sql(organization_id, span, sla, by, channel_id, agent_id, now) -> dict:
    key, key_params = _key_sql(by, span, "closed_at")
    where, params = _where(organization_id, span, channel_id, agent_id, "closed_at")
    took = "EXTRACT(EPOCH FROM closed_at - opened_at)::float8"
    rows = _rows(
        f"SELECT {key}, "  # noqa: S608 - constants and column names only
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {took}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {took}) "
        f"FROM {_TABLE} WHERE {where} GROUP BY 1",
        [*key_params, *params],
    )
    return {row[0]: {"resolution_median_s": row[1], "resolution_p90_s": row[2]} for row in rows}


def _in_python(organization_id, span, sla, by, channel_id, agent_id, now) -> tuple[dict, dict]:
    facts = ConversationFact.objects.filter(organization_id=organization_id)
    if channel_id is not None:
        facts = facts.filter(channel_id=channel_id)
    if agent_id is not None:
        facts = facts.filter(agent_id=agent_id)

    def key(fact, moment: datetime):
        if by == "day":
            return local_day(moment, span.tz)
        return getattr(fact, _COLUMN[by]) if by else None

    waits, resolutions = {}, {}
    for fact in facts.filter(
        first_customer_at__gte=span.start_at, first_customer_at__lt=span.end_before
    ):
        group = waits.setdefault(key(fact, fact.first_customer_at), [])
        waited = (fact.first_response_at or now) - fact.first_customer_at
        group.append((fact.first_response_at is not None, waited.total_seconds()))
    for fact in facts.filter(closed_at__gte=span.start_at, closed_at__lt=span.end_before):
        took = (fact.closed_at - fact.opened_at).total_seconds()
        resolutions.setdefault(key(fact, fact.closed_at), []).append(took)
    found = {k: _response_figures(v, sla) for k, v in waits.items()}
    closed = {
        k: {"resolution_median_s": percentile(v, 0.5), "resolution_p90_s": percentile(v, 0.9)}
        for k, v in resolutions.items()
    }
    return found, closed


def _response_figures(waits: list[tuple[bool, float]], sla: int) -> dict:
    answered = [seconds for done, seconds in waits if done]
    decided = [seconds for done, seconds in waits if done or seconds > sla]
    return {
        "first_response_median_s": percentile(answered, 0.5),
        "first_response_p90_s": percentile(answered, 0.9),
        "answered_within_sla_pct": _pct(sum(1 for s in answered if s <= sla), len(decided)),
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """As PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None
