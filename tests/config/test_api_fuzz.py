"""The API fuzzed over its own OpenAPI schema (schemathesis), as admin, agent and viewer.

Every generated request, valid or not, must get an answer the schema documents: no 5xx
but a documented provider 502 (PROVIDER_ERROR), and a status, content type and body
that match the operation's schema. It runs in process against the real database, with
a fixed seed and a bounded number of examples per operation, and with every provider
API faked to refuse (so a 502 is possible, and nothing leaves the machine).
"""

import httpx
import pytest
import respx
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi import checks as openapi_checks

from campaigns.models import Campaign, Enrollment, Step, StepKind
from integrations.models import Delivery
from integrations.subscriptions import subscription_create
from messaging.models import DoNotContact
from providers import Provider
from reconciliation.models import RunKind, RunTrigger
from reconciliation.services import run_create
from tenants.models import Role
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    MembershipFactory,
    MessageTemplateFactory,
    OrganizationFactory,
)
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

# Read once, at import, before any test has a user to sign in with.
with override_settings(API_DOCS_PUBLIC=True):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
# The stream never ends (tests/integrations/test_stream*.py cover it under ASGI).
schema = schema.exclude(path="/api/v1/stream")
# Examples per operation and role: 32 operations x (admin 12 + agent 4 + viewer 4).
EXAMPLES = {Role.ADMIN: 12, Role.AGENT: 4, Role.VIEWER: 4}
CHECKS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


@schemathesis.check
def no_server_error_but_a_provider_502(ctx, response, case):
    """The one 5xx the API may answer: a provider's refusal, as documented."""
    if response.status_code < 500:
        return True
    if response.status_code == 502 and _json(response).get("code") == "PROVIDER_ERROR":
        return True
    raise AssertionError(f"{response.status_code}: {response.text[:300]}")


@schemathesis.check
def field_errors_are_message_and_code(ctx, response, case):
    """Field errors have one shape everywhere: {field: [{message, code}, ...]}."""
    error = _json(response) if response.status_code == 400 else {}
    if error.get("code") != "VALIDATION_ERROR":
        return True
    for field, problems in error["details"].items():
        if isinstance(problems, list):
            assert all(set(p) == {"message", "code"} for p in problems), (field, problems)
    return True


def _json(response) -> dict:
    try:
        return response.json()
    except ValueError:
        return {}


@pytest.fixture
def world(settings):
    """One organization with something of every kind, and a token per role."""
    organization = OrganizationFactory(slug="fuzz")
    whatsapp = make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")
    make_channel(organization, Provider.OPENPHONE, access_token="op-key", phone_number_id="PN1")
    contact = ContactFactory(organization=organization, phone="+16505551234")
    conversation = ConversationFactory(organization=organization, channel=whatsapp, contact=contact)
    template = MessageTemplateFactory(channel=whatsapp)
    run = run_create(channel=whatsapp, trigger=RunTrigger.API, kind=RunKind.TEMPLATES)
    listed = DoNotContact.objects.create(
        organization=organization, kind="phone", value="+16505550199", source="api"
    )
    campaign = Campaign.objects.create(organization=organization, channel=whatsapp, name="Fuzz")
    Step.objects.create(campaign=campaign, position=1, kind=StepKind.TEXT, text="Hi {{name}}")
    Enrollment.objects.create(campaign=campaign, contact=contact, fields={"name": "Kim"})
    # The fuzz's URLs name no real host: with private addresses allowed nothing is
    # resolved when a subscription is saved, and nothing is sent (tasks queued on commit
    # never run in a test).
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True
    subscription = subscription_create(
        organization=organization,
        url="https://hooks.example.com/in",
        event_types=["message.received"],
    )
    delivery = Delivery.objects.create(
        organization=organization,
        subscription=subscription,
        event_type="message.received",
        webhook_id="msg_fuzz",
        payload="{}",
    )
    tokens = {
        role: Token.objects.create(
            user=MembershipFactory(organization=organization, role=role).user
        )
        for role in Role
    }
    return {
        "tokens": tokens,
        # A generated id that is even names a real object, so both paths are fuzzed.
        "ids": {
            "channels": whatsapp.pk,
            "conversations": conversation.pk,
            "contacts": contact.pk,
            "templates": template.pk,
            "reconciliation-runs": run.pk,
            "do-not-contact": listed.pk,
            "campaigns": campaign.pk,
            "subscriptions": subscription.pk,
            "deliveries": delivery.pk,
            "reports": campaign.pk,  # campaigns/{id}/steps
        },
    }


@pytest.fixture
def wsgi_requests():
    """As Django's test client does: requests must not close the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def providers_refuse():
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(
            return_value=httpx.Response(
                400, json={"error": {"message": "Refused by the fuzz test", "code": 100}}
            )
        )
        yield router


def _with_known_ids(case, ids: dict[str, int]) -> None:
    resource = case.operation.path.removeprefix("/api/v1/").split("/")[0]
    for name, value in (case.path_parameters or {}).items():
        if (
            resource in ids
            and str(value).isascii()
            and str(value).isdigit()
            and int(value) % 2 == 0
        ):
            case.path_parameters[name] = ids[resource]


def _fuzz(case, world, role: Role) -> None:
    _with_known_ids(case, world["ids"])
    headers = {"Authorization": f"Token {world['tokens'][role].key}"}
    case.call_and_validate(
        headers=headers,
        checks=[no_server_error_but_a_provider_502, field_errors_are_message_and_code, *CHECKS],
    )


COMMON = {
    "deadline": None,
    "derandomize": True,  # the same examples on every run
    "database": None,
    "phases": [Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


@schema.parametrize()
@settings(max_examples=EXAMPLES[Role.ADMIN], **COMMON)
def test_the_api_as_admin(case, world, wsgi_requests, providers_refuse):
    _fuzz(case, world, Role.ADMIN)


@schema.parametrize()
@settings(max_examples=EXAMPLES[Role.AGENT], **COMMON)
def test_the_api_as_agent(case, world, wsgi_requests, providers_refuse):
    _fuzz(case, world, Role.AGENT)


@schema.parametrize()
@settings(max_examples=EXAMPLES[Role.VIEWER], **COMMON)
def test_the_api_as_viewer(case, world, wsgi_requests, providers_refuse):
    _fuzz(case, world, Role.VIEWER)
