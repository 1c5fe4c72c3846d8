"""Unsubscribing from the weekly digest with the link in it: no login, the signed
token is the authority (reports.digest.unsubscribe_token).

GET shows a button and changes nothing: mail scanners and link previews follow links
in emails. POST unsubscribes: the button's form, or a mail client's one-click
unsubscribe (RFC 8058: a POST of "List-Unsubscribe=One-Click", without any cookie or
CSRF token, hence csrf_exempt; forging it needs the signed token anyway).
"""

from django.core import signing
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from reports.digest import UNSUBSCRIBE_SALT
from reports.digest_models import DigestRecipient


def recipient_from_token(token: str) -> DigestRecipient | None:
    try:
        claims = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(claims, dict):
        return None
    recipient = (
        DigestRecipient.objects.select_related("organization").filter(pk=claims.get("r")).first()
    )
    # The same row for the same address: an id reused after a deletion is not theirs.
    if recipient is None or recipient.email.lower() != claims.get("e"):
        return None
    return recipient


@csrf_exempt
@require_http_methods(["GET", "POST"])
def digest_unsubscribe_view(request, token: str):
    recipient = recipient_from_token(token)
    if recipient is None:
        return render(request, "reports/unsubscribe.html", {"invalid": True}, status=400)
    done = False
    if request.method == "POST":
        DigestRecipient.objects.filter(pk=recipient.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
        done = True
    context = {
        "recipient": recipient,
        "done": done or recipient.unsubscribed_at is not None,
        "organization": recipient.organization,
    }
    return render(request, "reports/unsubscribe.html", context)
