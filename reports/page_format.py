"""How the Reports page and the weekly digest write a figure: durations in the largest
sensible unit, shares with one decimal, a missing figure as a dash (no data is not
zero)."""

REFUSAL_REASONS = [
    ("refused_window_expired", "Window expired"),
    ("refused_template_not_approved", "Template not approved"),
    ("refused_rate_limited", "Rate limited"),
    ("refused_opted_out", "Opted out"),
    ("refused_other", "Other"),
]
DASH = "—"


def duration(seconds: float | None) -> str:
    """ "45 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if seconds is None:
        return DASH
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}%"


def count(value: int | float | None) -> str:
    return DASH if value is None else f"{value:,}"


def refused_total(row: dict) -> int:
    return sum(row.get(key) or 0 for key, _ in REFUSAL_REASONS)


def minutes(seconds: float | None) -> float | None:
    """Seconds to minutes for a chart's points (a gap stays a gap)."""
    return None if seconds is None else round(seconds / 60, 1)
