"""GET/POST /api/v1/do-not-contact/, DELETE /api/v1/do-not-contact/{id} and
POST /api/v1/do-not-contact/import (multipart or text/csv)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from messaging.models import DoNotContact, DoNotContactKind, DoNotContactSource
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/do-not-contact/"
IMPORT = "/api/v1/do-not-contact/import"


def _entry(organization, value="+16505551234", kind=DoNotContactKind.PHONE):
    return DoNotContact.objects.create(
        organization=organization, kind=kind, value=value, source=DoNotContactSource.ADMIN
    )


def _csv(client, text: str, query: str = ""):
    return client.post(f"{IMPORT}{query}", text.encode(), content_type="text/csv")


def _values(organization) -> set[str]:
    return set(
        DoNotContact.objects.filter(organization=organization).values_list("value", flat=True)
    )


def test_an_admin_adds_a_number_normalized_to_e164(admin_client, organization):
    response = admin_client.post(
        URL,
        json.dumps({"kind": "phone", "value": "(650) 555-0142", "default_region": "us"}),
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["value"] == "+16505550142"
    entry = DoNotContact.objects.get(organization=organization)
    assert (entry.source, entry.added_by.username) == ("api", response.json()["added_by"])


@pytest.mark.parametrize(
    ("value", "code"),
    [("+15555550100", "invalid"), ("+1650555", "invalid"), ("+16505551234", "already_listed")],
)
def test_an_invalid_or_listed_number_is_a_field_error(admin_client, organization, value, code):
    _entry(organization)

    response = admin_client.post(
        URL, json.dumps({"kind": "phone", "value": value}), content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"]["value"][0]["code"] == code


def test_agents_read_the_list_and_may_not_change_it(agent_client, organization):
    entry = _entry(organization)
    _entry(OrganizationFactory(), value="+16505550000")

    listed = agent_client.get(URL)
    added = agent_client.post(
        URL, json.dumps({"kind": "phone", "value": "+16505550100"}), content_type="application/json"
    )
    deleted = agent_client.delete(f"{URL}{entry.pk}")

    assert [row["value"] for row in listed.json()["results"]] == ["+16505551234"]
    assert (added.status_code, deleted.status_code) == (403, 403)


def test_viewers_do_not_read_the_list(viewer_client):
    assert viewer_client.get(URL).status_code == 403


def test_an_admin_deletes_an_entry_and_another_organizations_is_not_found(
    admin_client, organization
):
    mine = _entry(organization)
    theirs = _entry(OrganizationFactory())

    assert admin_client.delete(f"{URL}{theirs.pk}").status_code == 404
    assert admin_client.delete(f"{URL}{mine.pk}").status_code == 204
    assert DoNotContact.objects.filter(pk=theirs.pk).exists()
    assert not DoNotContact.objects.filter(pk=mine.pk).exists()


def test_a_csv_body_is_imported_with_counts(admin_client, organization):
    _entry(organization, value="+16505550003")
    text = (
        "phone,linkedin,note\n"
        "+1 650 555 0001,,asked in store\n"
        ",ACoAAB123,LinkedIn request\n"
        "16505550001,,same number again\n"
        "+16505550003,,already listed\n"
        "\n"
    )

    response = _csv(admin_client, text)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "rows": 4,
        "added": 2,
        "skipped": 1,
        "duplicates": 1,
        "invalid": 0,
        "lines": {},
    }
    assert _values(organization) == {"+16505550001", "ACoAAB123", "+16505550003"}
    entry = DoNotContact.objects.get(value="+16505550001")
    assert (entry.note, entry.source) == ("asked in store", "import")


def test_an_invalid_line_imports_nothing_and_says_which_lines(admin_client, organization):
    text = "phone,note\n+16505550001,ok\n+15555550100,fictional\nhello,typo\n+16505550002,ok\n"

    response = _csv(admin_client, text)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"] == "2 line(s) of the file are invalid: nothing was imported."
    assert body["details"]["invalid"] == 2
    assert body["details"]["added"] == 0
    assert sorted(body["details"]["lines"]) == ["3", "4"]
    assert body["details"]["lines"]["3"] == [
        {"message": "'+15555550100' is not a valid phone number in US.", "code": "invalid_phone"}
    ]
    assert _values(organization) == set()


def test_only_valid_imports_the_valid_lines_and_reports_the_others(admin_client, organization):
    text = "phone\n+16505550001\nnope\n"

    response = _csv(admin_client, text, "?only_valid=true")

    assert response.status_code == 200
    assert (response.json()["added"], response.json()["invalid"]) == (1, 1)
    assert list(response.json()["lines"]) == ["3"]
    assert _values(organization) == {"+16505550001"}


def test_a_multipart_upload_with_a_default_region(admin_client, organization):
    upload = SimpleUploadedFile("dnc.csv", b"020 7946 0018,UK office\n", content_type="text/csv")

    response = admin_client.post(
        IMPORT, {"file": upload, "default_region": "GB"}, format="multipart"
    )

    assert response.status_code == 200, response.json()
    assert _values(organization) == {"+442079460018"}


@override_settings(DEFAULT_PHONE_REGION=None)
def test_a_national_number_without_a_region_is_an_invalid_line(admin_client):
    response = _csv(admin_client, "6505550001\n")

    assert response.status_code == 400
    assert response.json()["details"]["lines"]["1"][0]["code"] == "invalid_phone"


def test_an_agent_may_not_import(agent_client):
    assert _csv(agent_client, "+16505550001\n").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "file"),
        (b"\xff\xfe+1650", "file"),
        (b"note,comment\nx,y\n", "file"),
    ],
)
def test_an_unreadable_file_is_a_field_error(admin_client, body, field):
    response = admin_client.post(IMPORT, body, content_type="text/csv")

    assert response.status_code == 400
    assert field in response.json()["details"]


def test_a_json_body_is_not_an_import(admin_client):
    response = admin_client.post(IMPORT, json.dumps({"x": 1}), content_type="application/json")

    assert response.status_code == 415


def test_a_file_over_the_limit_is_413(admin_client):
    big = SimpleUploadedFile("big.csv", b"+16505550001\n" * 200_000, content_type="text/csv")

    response = admin_client.post(IMPORT, {"file": big}, format="multipart")

    assert response.status_code == 413
    assert response.json()["details"] == {"max_bytes": 2 * 1024 * 1024}
