"""A WhatsApp channel claims a phone number by its id, which anyone can type. Before it
is saved, Meta must let the channel's access token read that number: only its holder
can claim it, and nobody learns that another tenant has it."""

import threading

import httpx
import pytest
from django.db import connection, connections

from providers import Provider
from tenants import services
from tenants.errors import ApplicationError
from tenants.models import Channel
from tests.factories import ChannelFactory, OrganizationFactory, UserFactory
from tests.meta_numbers import (
    invalid_token,
    meta_reads_numbers,
    number_url,
    readable_number,
    unreadable_number,
    waba_numbers,
    waba_url,
)

pytestmark = pytest.mark.django_db

NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
NEW_WHATSAPP_CHANNEL = {
    "provider": "whatsapp_cloud",
    "name": "Sales WhatsApp",
    "phone_number_id": NUMBER_ID,
    "waba_id": WABA_ID,
    "access_token": "EAAG-token-of-the-number",
    "app_secret": "meta-app-secret",
}


def test_a_number_the_token_can_read_is_saved(admin_client, respx_mock):
    read = respx_mock.get(number_url(NUMBER_ID)).mock(return_value=readable_number(NUMBER_ID))
    respx_mock.get(waba_url(WABA_ID)).mock(return_value=waba_numbers("1", NUMBER_ID))

    response = admin_client.post("/api/v1/channels/", NEW_WHATSAPP_CHANNEL)

    assert response.status_code == 201, response.json()
    assert read.call_count == 1
    assert read.calls.last.request.headers["Authorization"] == "Bearer EAAG-token-of-the-number"
    assert Channel.objects.get().phone_number_id == NUMBER_ID


@pytest.mark.parametrize(
    "answer", [unreadable_number(NUMBER_ID), invalid_token()], ids=["no-access", "bad-token"]
)
def test_a_number_the_token_cannot_read_is_refused(admin_client, respx_mock, answer):
    respx_mock.get(number_url(NUMBER_ID)).mock(return_value=answer)

    response = admin_client.post("/api/v1/channels/", NEW_WHATSAPP_CHANNEL)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], set(body["details"])) == ("VALIDATION_ERROR", {"phone_number_id"})
    assert body["details"]["phone_number_id"][0]["code"] == "not_readable"
    assert "cannot read" in body["message"]
    assert not Channel.objects.exists()


def test_another_tenants_number_is_refused_without_saying_it_is_taken(admin_client, respx_mock):
    ChannelFactory(organization=OrganizationFactory(), phone_number_id=NUMBER_ID)
    respx_mock.get(number_url(NUMBER_ID)).mock(return_value=unreadable_number(NUMBER_ID))

    response = admin_client.post("/api/v1/channels/", NEW_WHATSAPP_CHANNEL)

    assert response.status_code == 400
    assert response.json()["details"]["phone_number_id"][0]["code"] == "not_readable"
    assert "exist" not in response.json()["message"].replace("does not exist", "")
    assert Channel.objects.count() == 1


def test_a_number_is_not_claimed_without_an_access_token(admin_client, respx_mock):
    response = admin_client.post("/api/v1/channels/", {**NEW_WHATSAPP_CHANNEL, "access_token": ""})

    assert response.status_code == 400
    assert response.json()["details"]["access_token"][0]["code"] == "required"
    assert not respx_mock.calls


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("no route to host"), httpx.Response(503), httpx.ReadTimeout("slow")],
    ids=["unreachable", "503", "timeout"],
)
def test_meta_unreachable_is_a_clear_502_and_nothing_is_saved(admin_client, respx_mock, failure):
    route = respx_mock.get(number_url(NUMBER_ID))
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)

    response = admin_client.post("/api/v1/channels/", NEW_WHATSAPP_CHANNEL)

    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "PROVIDER_ERROR"
    assert "nothing was saved" in body["message"]
    assert set(body) == {"code", "message", "details"}
    assert not Channel.objects.exists()


def test_changing_the_number_checks_it_again(admin_client, organization, respx_mock):
    channel = ChannelFactory(organization=organization)
    respx_mock.get(number_url("999")).mock(return_value=unreadable_number("999"))

    response = admin_client.patch(f"/api/v1/channels/{channel.id}/", {"phone_number_id": "999"})

    assert response.status_code == 400
    channel.refresh_from_db()
    assert channel.phone_number_id != "999"


def test_a_new_token_is_checked_against_the_number(admin_client, organization, respx_mock):
    channel = ChannelFactory(organization=organization)
    read = respx_mock.get(number_url(channel.phone_number_id)).mock(
        return_value=readable_number(channel.phone_number_id)
    )
    respx_mock.get(waba_url(channel.waba_id)).mock(
        return_value=waba_numbers(channel.phone_number_id)
    )

    response = admin_client.patch(f"/api/v1/channels/{channel.id}/", {"access_token": "new"})

    assert response.status_code == 200
    assert read.calls.last.request.headers["Authorization"] == "Bearer new"


def test_other_changes_ask_meta_nothing(admin_client, organization, respx_mock):
    channel = ChannelFactory(organization=organization)

    renamed = admin_client.patch(f"/api/v1/channels/{channel.id}/", {"name": "Renamed"})
    cleared = admin_client.patch(f"/api/v1/channels/{channel.id}/", {"access_token": ""})

    assert (renamed.status_code, cleared.status_code) == (200, 200)
    assert not respx_mock.calls


# --- The admin form ------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


# The add page's second step: the form of the provider chosen in the first.
ADMIN_ADD_WHATSAPP = "/admin/tenants/channel/add/?provider=whatsapp_cloud"


def _admin_add_form(organization, **changes) -> dict:
    form = {
        "organization": organization.id,
        "name": "Sales WhatsApp",
        "display_phone_number": "",
        "account_id": "",
        "api_base_url": "",
        "window_policy": "",
        "is_active": "on",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        **{k: v for k, v in NEW_WHATSAPP_CHANNEL.items() if k != "name"},
    }
    form.update(changes)
    return form


def test_the_admin_form_refuses_a_number_the_token_cannot_read(
    staff_client, organization, respx_mock
):
    respx_mock.get(number_url(NUMBER_ID)).mock(return_value=unreadable_number(NUMBER_ID))

    response = staff_client.post(ADMIN_ADD_WHATSAPP, _admin_add_form(organization))

    assert response.status_code == 200  # the form again, with the error
    assert "cannot read" in response.content.decode()
    assert not Channel.objects.exists()


def test_the_admin_form_says_when_meta_cannot_be_reached(staff_client, organization, respx_mock):
    respx_mock.get(number_url(NUMBER_ID)).mock(side_effect=httpx.ConnectError("offline"))

    response = staff_client.post(ADMIN_ADD_WHATSAPP, _admin_add_form(organization))

    assert response.status_code == 200
    assert "nothing was saved" in response.content.decode()
    assert not Channel.objects.exists()


def test_the_admin_form_saves_a_number_the_token_can_read(staff_client, organization, respx_mock):
    respx_mock.get(number_url(NUMBER_ID)).mock(return_value=readable_number(NUMBER_ID))
    respx_mock.get(waba_url(WABA_ID)).mock(return_value=waba_numbers(NUMBER_ID))

    response = staff_client.post(ADMIN_ADD_WHATSAPP, _admin_add_form(organization))

    assert response.status_code == 302
    assert Channel.objects.get().phone_number_id == NUMBER_ID


# --- Two admins at once ----------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: SQLite's IMMEDIATE transactions let one writer in at a time, "
    "so the two saves can never race there; CI runs this on PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_two_admins_claiming_one_number_at_once_get_one_channel_and_a_400(monkeypatch):
    """Both pass every check before either saves; the database stops the second, who
    is told what the check would have told them, not given an error 500."""
    organization = OrganizationFactory()
    both_checked = threading.Barrier(2, timeout=10)
    checked = Channel.validate_constraints

    def check_then_wait(self, *args, **kwargs):
        checked(self, *args, **kwargs)
        both_checked.wait()

    monkeypatch.setattr(Channel, "validate_constraints", check_then_wait)
    outcomes = []

    def create(name: str) -> None:
        try:
            services.channel_create(
                organization=organization,
                provider=Provider.WHATSAPP_CLOUD,
                name=name,
                **{k: v for k, v in NEW_WHATSAPP_CHANNEL.items() if k not in {"provider", "name"}},
            )
            outcomes.append("created")
        except ApplicationError as exc:
            outcomes.append(exc.details["phone_number_id"][0]["code"])
        finally:
            connections.close_all()

    with meta_reads_numbers():
        threads = [threading.Thread(target=create, args=(name,)) for name in ("A", "B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert sorted(outcomes) == ["created", "unique"]
    assert Channel.objects.count() == 1


def test_a_waba_that_does_not_list_the_number_is_refused(admin_client, respx_mock):
    # Another business's WABA id, typed beside a number of one's own: that WABA's
    # template and account webhooks would reach this channel too.
    respx_mock.get(number_url(NUMBER_ID)).mock(return_value=readable_number(NUMBER_ID))
    respx_mock.get(waba_url(WABA_ID)).mock(return_value=waba_numbers("555000111"))

    response = admin_client.post("/api/v1/channels/", NEW_WHATSAPP_CHANNEL)

    assert response.status_code == 400
    assert response.json()["details"]["waba_id"][0]["code"] == "not_readable"
    assert not Channel.objects.exists()


def test_changing_the_waba_checks_it_again(admin_client, organization, respx_mock):
    channel = ChannelFactory(organization=organization)
    respx_mock.get(number_url(channel.phone_number_id)).mock(
        return_value=readable_number(channel.phone_number_id)
    )
    respx_mock.get(waba_url("777")).mock(return_value=waba_numbers("555000111"))

    response = admin_client.patch(f"/api/v1/channels/{channel.id}/", {"waba_id": "777"})

    assert response.status_code == 400
    channel.refresh_from_db()
    assert channel.waba_id != "777"


def test_meta_is_asked_outside_any_transaction_of_ours(admin_client, respx_mock):
    # A transaction held open across an HTTP call holds a connection (and rows) for as
    # long as Meta takes. The test's own transaction is the outermost; ours would nest
    # inside it as a savepoint.
    savepoints_during_call = []

    def read(request):
        savepoints_during_call.append(list(connection.savepoint_ids))
        return readable_number(NUMBER_ID)

    respx_mock.get(number_url(NUMBER_ID)).mock(side_effect=read)
    respx_mock.get(waba_url(WABA_ID)).mock(return_value=waba_numbers(NUMBER_ID))

    assert admin_client.post("/api/v1/channels/", NEW_WHATSAPP_CHANNEL).status_code == 201
    assert savepoints_during_call == [[]]
