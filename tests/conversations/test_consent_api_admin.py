"""Consent where people see and change it: the contact's API representation, the
consent endpoint and history (admins change, everyone reads), and the admin page."""

import pytest

from conversations.consent_models import Consent, ConsentChange
from providers import Provider
from tenants.models import Role
from tests.conversations.consent_helpers import file, inbound
from tests.factories import ContactFactory, MembershipFactory, OrganizationFactory, UserFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db


def _url(contact, tail: str = "") -> str:
    return f"/api/v1/contacts/{contact.pk}/{tail}"


def _consent(body: list[dict], kind: str, scope: str) -> dict:
    return next(item for item in body if (item["kind"], item["scope"]) == (kind, scope))


def test_an_admin_sets_consent_and_the_history_says_who(admin_client, organization):
    contact = ContactFactory(organization=organization)

    response = admin_client.post(
        _url(contact, "consent"),
        {"kind": "sms", "scope": "marketing", "state": "opted_out"},
        format="json",
    )

    assert response.status_code == 200
    row = _consent(response.json()["consent"], "sms", "marketing")
    assert (row["state"], row["source"]) == ("opted_out", "api")
    assert row["since"].endswith("Z")
    assert _consent(response.json()["consent"], "sms", "service")["state"] == "unknown"
    history = admin_client.get(_url(contact, "consent-history")).json()["results"]
    assert [(h["state"], h["previous_state"], h["source"]) for h in history] == [
        ("opted_out", "unknown", "api")
    ]
    assert history[0]["changed_by"]["id"] == admin_client.user.pk


def test_the_contact_shows_its_consent(viewer_client, organization):
    channel = make_channel(organization, Provider.OPENPHONE)
    file(inbound(channel, "STOP"))
    contact = Consent.objects.get(scope="service").contact

    detail = viewer_client.get(_url(contact)).json()

    assert _consent(detail["consent"], "sms", "service")["source"] == "keyword"
    assert _consent(detail["consent"], "whatsapp", "service")["state"] == "unknown"
    history = viewer_client.get(_url(contact, "consent-history")).json()["results"]
    assert {h["label"] for h in history} == {"STOP"}
    assert history[0]["message"] is not None


@pytest.mark.parametrize("client_name", ["agent_client", "viewer_client"])
def test_only_admins_change_consent(request, organization, client_name):
    contact = ContactFactory(organization=organization)
    client = request.getfixturevalue(client_name)

    response = client.post(
        _url(contact, "consent"), {"kind": "sms", "scope": "service", "state": "subscribed"}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert not Consent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "fax", "scope": "service", "state": "opted_out"}, "kind"),
        ({"kind": "sms", "scope": "everything", "state": "opted_out"}, "scope"),
        ({"kind": "sms", "scope": "service", "state": "maybe"}, "state"),
        ({"scope": "service", "state": "opted_out"}, "kind"),
    ],
)
def test_bad_input_is_a_400_on_the_field(admin_client, organization, body, field):
    contact = ContactFactory(organization=organization)

    response = admin_client.post(_url(contact, "consent"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["details"]


def test_another_organizations_contact_is_not_found(admin_client):
    theirs = ContactFactory(organization=OrganizationFactory())

    posted = admin_client.post(
        _url(theirs, "consent"), {"kind": "sms", "scope": "service", "state": "opted_out"}
    )

    assert posted.status_code == 404
    assert admin_client.get(_url(theirs, "consent-history")).status_code == 404
    assert not Consent.objects.exists()


# --- admin --------------------------------------------------------------------------


def _staff(client, organization, role: Role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    return user


def _form(contact, consents: list[dict], initial: int = 0) -> dict:
    form = {"organization": contact.organization_id, "name": contact.name, "phone": contact.phone}
    for prefix, rows in [("consent_changes", 0), ("identities", 0), ("conversations", 0)]:
        form |= {f"{prefix}-TOTAL_FORMS": rows, f"{prefix}-INITIAL_FORMS": rows}
    form |= {"consents-TOTAL_FORMS": len(consents), "consents-INITIAL_FORMS": initial}
    for index, row in enumerate(consents):
        form |= {f"consents-{index}-{key}": value for key, value in row.items()}
        form[f"consents-{index}-contact"] = contact.pk
    return form


def test_an_admin_changes_consent_on_the_contacts_page(client, organization):
    user = _staff(client, organization, Role.ADMIN)
    contact = ContactFactory(organization=organization)
    url = f"/admin/conversations/contact/{contact.pk}/change/"
    assert "consent history" in client.get(url).content.decode().lower()

    response = client.post(
        url, _form(contact, [{"kind": "whatsapp", "scope": "marketing", "state": "opted_out"}])
    )

    assert response.status_code == 302
    change = ConsentChange.objects.get()
    assert (change.source, change.changed_by, change.state) == ("admin", user, "opted_out")


def test_an_agent_sees_consent_but_cannot_change_it(client, organization):
    _staff(client, organization, Role.AGENT)
    contact = ContactFactory(organization=organization)
    url = f"/admin/conversations/contact/{contact.pk}/change/"
    file_consent = {"kind": "sms", "scope": "service", "state": "opted_out"}

    page = client.get(url).content.decode().lower()
    client.post(url, _form(contact, [file_consent]))

    assert "consent history" in page
    assert not Consent.objects.exists()
