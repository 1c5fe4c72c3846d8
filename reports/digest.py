"""The weekly digest's content: last week's inbox and campaign figures against the week
before, read from the same selectors as the Reports page, and the email that carries
them (plain text and HTML, no image, a link to the page and a one-click unsubscribe).

The figures are computed once per organization and week and kept with the send
(DigestSend.figures), so every recipient, and a retry an hour later, reads the same.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from reports import campaign_reports, inbox
from reports.admin_page import reports_url
from reports.digest_models import DigestRecipient
from reports.page_format import count, duration, percent, refused_total
from reports.ranges import DateRange, organization_tz
from tenants.models import Organization

UNSUBSCRIBE_SALT = "reports.digest.unsubscribe"
# (key, label, kind, whether a rise is good news)
INBOX = [
    ("conversations_opened", "Conversations opened", "count", None),
    ("conversations_closed", "Conversations closed", "count", None),
    ("messages_in", "Messages received", "count", None),
    ("messages_out", "Messages sent", "count", None),
    ("first_response_median_s", "First response (median)", "duration", False),
    ("answered_within_sla_pct", "Answered within SLA", "percent", True),
    ("refused", "Sends refused", "count", False),
]
CAMPAIGNS = [
    ("enrolled", "Leads enrolled", "count", None),
    ("sent", "Steps sent", "count", None),
    ("delivered", "Delivered", "count", None),
    ("replied", "Replies", "count", True),
    ("opted_out", "Opted out", "count", False),
]
SUMMED = ["enrolled", "sent", "delivered", "replied", "opted_out"]
SHOWN = {"count": count, "duration": duration, "percent": percent}


def week_span(organization: Organization, week_start: date) -> DateRange:
    return DateRange(week_start, week_start + timedelta(days=6), organization_tz(organization))


def digest_figures(*, organization: Organization, week_start: date) -> dict:
    """JSON-able: both weeks' figures, keyed as INBOX and CAMPAIGNS say."""
    week = week_span(organization, week_start)
    before = week.previous()
    return {
        "week": [str(week.start), str(week.end)],
        "before": [str(before.start), str(before.end)],
        "inbox": [_inbox(organization, week), _inbox(organization, before)],
        "campaigns": [_campaigns(organization, week), _campaigns(organization, before)],
    }


def _inbox(organization: Organization, span: DateRange) -> dict:
    summary = inbox.inbox_summary(organization=organization, span=span)
    figures = {key: summary.get(key) for key, *_ in INBOX if key != "refused"}
    return {**figures, "refused": refused_total(summary)}


def _campaigns(organization: Organization, span: DateRange) -> dict:
    rows = campaign_reports.campaign_funnel(organization=organization, span=span)
    return {key: sum(row.get(key) or 0 for row in rows) for key in SUMMED}


@dataclass(frozen=True)
class Line:
    label: str
    now: str
    before: str
    change: str  # "▲ 25%", "▼ 3.0 pts", "= same", "new", ""
    tone: str  # "good", "bad" or ""


def change(now: float | None, before: float | None, kind: str) -> tuple[str, int]:
    """The change as read: its text and direction (1 up, -1 down, 0 none)."""
    if now is None or before is None:
        return "", 0
    if now == before:
        return "= same", 0
    direction = 1 if now > before else -1
    arrow = "\u25b2" if direction > 0 else "\u25bc"
    if kind == "percent":  # a share moves by points, not by a percent of itself
        return f"{arrow} {abs(now - before):.1f} pts", direction
    if before == 0:
        return f"{arrow} new", direction
    return f"{arrow} {abs(now - before) / before * 100:.0f}%", direction


def lines(specs: list, week: dict, before: dict) -> list[Line]:
    shown = []
    for key, label, kind, rise_is_good in specs:
        text, direction = change(week.get(key), before.get(key), kind)
        good = None if rise_is_good is None or not direction else (direction > 0) == rise_is_good
        tone = "" if good is None else ("good" if good else "bad")
        fmt = SHOWN[kind]
        shown.append(Line(label, fmt(week.get(key)), fmt(before.get(key)), text, tone))
    return shown


def unsubscribe_token(recipient: DigestRecipient) -> str:
    return signing.dumps({"r": recipient.pk, "e": recipient.email.lower()}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(recipient: DigestRecipient) -> str:
    path = reverse("reports:digest_unsubscribe", args=[unsubscribe_token(recipient)])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def digest_email(
    *, organization: Organization, figures: dict, recipient: DigestRecipient
) -> EmailMultiAlternatives:
    (start, end), (before_start, before_end) = figures["week"], figures["before"]
    unsubscribe = unsubscribe_url(recipient)
    page = reports_url(organization, **{"from": start, "to": end})
    context = {
        "organization": organization,
        "week": (date.fromisoformat(start), date.fromisoformat(end)),
        "before": (date.fromisoformat(before_start), date.fromisoformat(before_end)),
        "inbox": lines(INBOX, *figures["inbox"]),
        "campaigns": lines(CAMPAIGNS, *figures["campaigns"]),
        "reports_url": f"{settings.PUBLIC_BASE_URL}{page}",
        "unsubscribe_url": unsubscribe,
    }
    week = context["week"]
    subject = f"[Switchboard] {organization.name}: your week of {week[0]:%b} {week[0].day}"
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/digest_email.txt", context),
        to=[recipient.email],
        headers={
            # RFC 2369 and RFC 8058: mail clients offer their own unsubscribe button and
            # POST "List-Unsubscribe=One-Click" to the URL, without a page in between.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(render_to_string("reports/digest_email.html", context), "text/html")
    return email
