import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tenants.models import Channel, Organization

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def development_mode(settings):
    settings.DEBUG = True  # pytest-django turns DEBUG off; seed_demo is for development


def _seed_json() -> dict:
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_demo_json_gives_what_a_script_needs():
    seed = _seed_json()

    assert seed["organization"]["slug"] == "demo"
    assert seed["admin"] == {"username": "admin", "password": "switchboard-demo"}
    by_provider = {c["provider"]: c for c in seed["channels"]}
    assert set(by_provider) == {"whatsapp_cloud", "openphone", "twilio", "unipile"}
    assert by_provider["whatsapp_cloud"]["app_secret"] == "demo-whatsapp-app-secret"
    assert by_provider["whatsapp_cloud"]["verify_token"]
    assert by_provider["openphone"]["signing_key"]
    assert by_provider["twilio"]["auth_token"] == "demo-twilio-auth-token"
    assert by_provider["unipile"]["shared_secret"] == "demo-unipile-shared-secret"
    assert by_provider["twilio"]["webhook_url"].endswith(
        f"/webhooks/twilio/{by_provider['twilio']['key']}/"
    )


def test_seed_demo_is_idempotent_and_its_token_works():
    first = _seed_json()
    second = _seed_json()

    assert first == second
    assert Organization.objects.filter(slug="demo").count() == 1
    assert Channel.objects.count() == 4
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {second['api_token']}")
    assert client.get("/api/v1/channels/").json()["results"]


def test_seed_demo_login_works(client):
    seed = _seed_json()

    assert client.login(username=seed["admin"]["username"], password=seed["admin"]["password"])
    assert client.get("/admin/").status_code == 200


def test_seed_demo_refuses_production_without_force(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert not Organization.objects.exists()
