"""The do-not-contact list in the admin: the list, adding one entry, and the CSV
import (upload, preview with per-line errors, confirm; nothing half-imported)."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from messaging.models import DoNotContact, DoNotContactSource
from tenants.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/messaging/donotcontact/"
IMPORT = f"{LIST}import/"


def _member(client, organization, role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def staff(client, organization):
    return _member(client, organization, Role.ADMIN)


def _upload(client, organization, text: str, **fields):
    upload = SimpleUploadedFile("list.csv", text.encode(), content_type="text/csv")
    data = {"organization": organization.pk, "file": upload, "default_region": "", **fields}
    response = client.post(IMPORT, data)
    assert response.status_code == 200
    return response


def _confirm(client, preview, **extra):
    """Posts the preview's confirm form as the browser would."""
    page = preview.content.decode()
    content = re.search(r"<textarea[^>]*name=\"content\"[^>]*>\n?(.*?)</textarea>", page, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    fields.pop("csrfmiddlewaretoken", None)
    data = {**fields, "content": html.unescape(content.group(1)), **extra}
    return client.post(IMPORT, data, follow=True)


def _values(organization) -> set[str]:
    return set(
        DoNotContact.objects.filter(organization=organization).values_list("value", flat=True)
    )


def test_the_list_offers_the_import_to_admins_only(client, organization):
    admin_page = _member(client, organization, Role.ADMIN).get(LIST).content.decode()
    agent = _member(client, organization, Role.AGENT)
    agent_page = agent.get(LIST)

    assert IMPORT in admin_page
    assert agent_page.status_code == 200  # agents read the list
    assert IMPORT not in agent_page.content.decode()
    assert agent.get(IMPORT).status_code == 403


def test_adding_one_number_stores_it_in_e164_with_who_and_where(staff, organization):
    response = staff.post(
        f"{LIST}add/",
        {
            "organization": organization.pk,
            "kind": "phone",
            "value": "650 555 0142",
            "default_region": "US",
            "note": "Asked on the phone",
        },
    )

    assert response.status_code == 302
    entry = DoNotContact.objects.get()
    assert (entry.value, entry.source, entry.added_by) == (
        "+16505550142",
        DoNotContactSource.ADMIN,
        staff.user,
    )


def test_adding_an_invalid_number_is_a_field_error(staff, organization):
    response = staff.post(
        f"{LIST}add/", {"organization": organization.pk, "kind": "phone", "value": "+15555550100"}
    )

    assert response.status_code == 200
    assert "is not a valid phone number in US" in response.content.decode()
    assert not DoNotContact.objects.exists()


def test_a_valid_file_is_previewed_then_imported(staff, organization):
    DoNotContact.objects.create(
        organization=organization, kind="phone", value="+16505550003", source="admin"
    )
    text = "phone,note\n+16505550001,a\n+16505550001,again\n+16505550003,listed\n+16505550002,b\n"

    preview = _upload(staff, organization, text)

    page = preview.content.decode()
    assert re.search(r'id="to-add">2<', page)
    assert "Already on the list (skipped): <strong>1" in page
    assert "Repeated in the file (merged): <strong>1" in page
    assert _values(organization) == {"+16505550003"}  # a preview stores nothing

    done = _confirm(staff, preview)

    assert "2 added, 1 already listed, 1 duplicate lines merged" in done.content.decode()
    assert _values(organization) == {"+16505550001", "+16505550002", "+16505550003"}
    assert DoNotContact.objects.get(value="+16505550001").source == "import"


def test_invalid_lines_are_shown_and_nothing_is_imported_without_consent(staff, organization):
    text = "phone\n+16505550001\n+15555550100\nnot a number\n"

    preview = _upload(staff, organization, text)

    page = preview.content.decode()
    assert re.search(r'id="invalid">2<', page)
    assert page.count('class="invalid-line"') == 2
    assert "&#x27;+15555550100&#x27; is not a valid phone number in US." in page

    refused = _confirm(staff, preview)

    assert "Nothing imported" in refused.content.decode()
    assert _values(organization) == set()

    partial = _confirm(staff, preview, only_valid="on")

    assert "1 added" in partial.content.decode()
    assert _values(organization) == {"+16505550001"}


def test_a_file_that_is_not_csv_is_a_form_error(staff, organization):
    upload = SimpleUploadedFile("list.csv", b"\xff\xfe\x00x", content_type="text/csv")

    response = staff.post(IMPORT, {"organization": organization.pk, "file": upload})

    assert "not UTF-8" in response.content.decode()


def test_another_organizations_staff_cannot_import_into_it(client, organization):
    other = OrganizationFactory(name="Other Org")
    outsider = _member(client, other, Role.ADMIN)

    form = outsider.get(IMPORT).content.decode()
    upload = _upload(outsider, organization, "+16505550001\n")
    forced = outsider.post(IMPORT, {"organization": organization.pk, "content": "+16505550001\n"})

    assert organization.name not in form
    assert "Select a valid choice" in upload.content.decode()
    assert forced.status_code == 403
    assert not DoNotContact.objects.exists()
