"""Emails to the people who must act: an organization's alert addresses, or the
operators (ADMINS) when there is no organization to tell."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from tenants.models import Organization

logger = logging.getLogger(__name__)


def alert_recipients(organization: Organization | None) -> list[str]:
    """The organization's alert addresses; the operators (ADMINS) when there is no
    organization (an unroutable event) or it has none."""
    addresses = organization.alert_email_list if organization else []
    return addresses or [address for _, address in settings.ADMINS]


def alert_send(*, organization: Organization | None, subject: str, body: str) -> bool:
    recipients = alert_recipients(organization)
    if not recipients:
        logger.error("Alert with nobody to tell (set alert emails or ADMIN_EMAILS): %s", subject)
        return False
    send_mail(f"[Switchboard] {subject}", body, None, recipients)
    return True


def admin_url(viewname: str, object_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse(viewname, args=[object_id])}"
