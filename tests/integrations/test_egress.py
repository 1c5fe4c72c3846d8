"""What a subscription may send to: SSRF refusals at creation and at delivery, no
redirects followed, answers read up to 64 KB."""

import time
from datetime import timedelta

import pytest
import time_machine

from integrations import egress
from integrations.fanout import deliveries_fan_out
from integrations.models import Delivery, DeliveryStatus
from integrations.sending import deliveries_send_round
from tenants.errors import ApplicationError
from tests.factories import OrganizationFactory
from tests.integrations.conftest import SUBS_T0 as T0
from tests.integrations.conftest import record, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = False
    settings.INTEGRATIONS_ALLOW_HTTP = False


@pytest.fixture
def dns(monkeypatch):
    """Our own DNS: name -> addresses."""
    answers = {"hooks.example.com": ["93.184.215.14"]}

    def resolve(host, port):
        if host in answers:
            return answers[host]
        if host.strip("[]").replace(".", "").replace(":", "").isalnum():
            return [host.strip("[]")]  # a literal address resolves to itself
        raise OSError("no such host")

    monkeypatch.setattr(egress, "resolve", resolve)
    return answers


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",  # carrier-grade NAT: not global either
        "https://private.example.com/hook",
    ],
)
def test_private_addresses_are_refused_at_creation(production, dns, url):
    dns["private.example.com"] = ["93.184.215.14", "10.0.0.7"]  # one bad answer is enough
    with pytest.raises(ApplicationError) as refused:
        subscribe(OrganizationFactory(), url)
    assert refused.value.code == "VALIDATION_ERROR"
    assert "url" in refused.value.details


def test_plain_http_is_refused_in_production(production, dns):
    with pytest.raises(ApplicationError, match="https"):
        subscribe(OrganizationFactory(), "http://hooks.example.com/hook")


def test_a_public_https_url_is_accepted(production, dns):
    assert subscribe(OrganizationFactory(), "https://hooks.example.com/hook").pk


def test_a_name_that_turns_private_later_is_refused_at_delivery(production, dns, monkeypatch):
    organization = OrganizationFactory()
    subscribe(organization, "https://hooks.example.com/hook")
    dns["hooks.example.com"] = ["127.0.0.1"]  # DNS rebinding, or a changed record
    sent = []
    monkeypatch.setattr(egress, "_client", lambda target: sent.append(target))
    record(organization, conversation_id=1)
    with time_machine.travel(T0, tick=False):
        deliveries_fan_out()
        deliveries_send_round(now=T0)
    delivery = Delivery.objects.get()
    assert sent == []  # no connection at all
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "127.0.0.1" in delivery.error
    assert delivery.response_status is None


def test_the_request_goes_to_the_checked_address_with_the_name_for_tls(production, dns):
    target = egress.url_check("https://hooks.example.com/in?x=1")
    assert target.url == "https://93.184.215.14:443/in?x=1"
    assert target.host == "hooks.example.com"


def _send_one(organization, now=T0) -> Delivery:
    record(organization, conversation_id=None)
    with time_machine.travel(now, tick=False):
        deliveries_fan_out()
        deliveries_send_round(now=now)
    return Delivery.objects.order_by("-id").first()


def test_redirects_are_not_followed(receiver):
    organization = OrganizationFactory()
    subscribe(organization, receiver.url)
    elsewhere = receiver.url.replace("/hook", "/elsewhere")
    receiver.answer = lambda request: (
        (302, {"Location": elsewhere}, b"") if request.path == "/hook" else (200, {}, b"ok")
    )
    delivery = _send_one(organization)
    assert [r.path for r in receiver.received] == ["/hook"]
    assert delivery.response_status == 302
    assert delivery.status == DeliveryStatus.PENDING  # a failed attempt, retried later
    assert delivery.next_attempt_at == T0 + timedelta(seconds=5)


def test_an_endless_answer_is_read_up_to_64_kb(receiver):
    organization = OrganizationFactory()
    subscribe(organization, receiver.url)
    produced = []

    def endless():
        while True:  # 1 KB chunks, slowly enough that reading it all would time out
            produced.append(1024)
            yield b"x" * 1024
            if len(produced) % 64 == 0:
                time.sleep(0.05)

    receiver.answer = lambda request: (200, {}, endless)
    started = time.monotonic()
    delivery = _send_one(organization)
    assert time.monotonic() - started < 5  # not the 10 s timeout: it stopped reading
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert len(delivery.response_excerpt) == egress.EXCERPT_CHARS


def test_the_reader_stops_at_the_limit():
    chunks = [b"y" * 10_000 for _ in range(100)]
    taken = []

    class Response:
        def iter_raw(self):
            for chunk in chunks:
                taken.append(len(chunk))
                yield chunk

    egress._read_capped(Response())
    assert sum(taken) < egress.RESPONSE_READ_LIMIT + 10_000
