"""A webhook sent with `Transfer-Encoding: chunked` (no Content-Length) is read whole.

Django reads Content-Length bytes, so such a body looked empty: Unipile (authenticated
by a header, not a signature over the body) got a 200 for a row with no body. Now a
server that decodes the chunks (gunicorn) hands the whole body to the view, and one
that cannot (runserver) answers 411: never a 200 over nothing.
"""

import io
import subprocess
import sys
from contextlib import contextmanager
from wsgiref.util import setup_testing_defaults

import httpx
import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from config.chunked import ChunkedBodyMiddleware
from providers import Provider
from tests import worker
from tests.webhooks.delivery import INBOUND_TEXT
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def _call(application, path: str, body: bytes, headers: dict[str, str], *, terminated: bool):
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": headers.pop("Content-Type", "application/json"),
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_HOST": "testserver",  # Twilio signs the URL it called
        "wsgi.input": io.BytesIO(body),  # what a server that decoded the chunks gives
        "wsgi.input_terminated": terminated,
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    setup_testing_defaults(environ)
    environ.pop("CONTENT_LENGTH", None)
    answered = {}

    def start_response(status, response_headers, exc_info=None):
        answered["status"] = int(status.split()[0])

    content = b"".join(application(environ, start_response))
    return answered["status"], content


@pytest.fixture
def application():
    # As Django's test client does: the test's transaction must outlive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield ChunkedBodyMiddleware(get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_the_wsgi_application_reads_chunked_bodies():
    from config.wsgi import application

    assert isinstance(application, ChunkedBodyMiddleware)


@pytest.mark.parametrize("provider", list(Provider), ids=lambda p: p.value)
def test_a_chunked_webhook_is_stored_whole(application, endpoints, provider):
    endpoint = endpoints[provider]
    body, content_type, headers = endpoint.request(INBOUND_TEXT[provider])

    status, _ = _call(
        application, endpoint.path, body, {**headers, "Content-Type": content_type}, terminated=True
    )

    assert status == 200
    assert bytes(WebhookEvent.objects.get().body) == body


def test_the_signature_of_a_chunked_webhook_is_checked_over_the_whole_body(application, whatsapp):
    body, _, headers = whatsapp.request("text")
    forged = body.replace(b"another color", b"a cheaper one")

    status, _ = _call(application, whatsapp.path, forged, dict(headers), terminated=True)

    assert status == 401
    assert not WebhookEvent.objects.exists()


def test_a_server_that_cannot_read_chunks_answers_411(application, endpoints):
    unipile = endpoints[Provider.UNIPILE]
    body, _, headers = unipile.request("message_received")

    status, _ = _call(application, unipile.path, body, dict(headers), terminated=False)

    assert status == 411
    assert not WebhookEvent.objects.exists()


def test_a_chunked_body_over_the_limit_is_a_413(application, endpoints, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    unipile = endpoints[Provider.UNIPILE]
    body, _, headers = unipile.request("message_received")

    status, _ = _call(application, unipile.path, body, dict(headers), terminated=True)

    assert status == 413
    assert not WebhookEvent.objects.exists()


def test_a_chunked_api_refusal_is_in_house_format(application):
    status, content = _call(application, "/api/v1/channels/", b"{}", {}, terminated=False)

    assert status == 411
    assert b'"code": "LENGTH_REQUIRED"' in content


# --- real servers, as the README runs them -------------------------------------------


@contextmanager
def _gunicorn(port: int, log_dir):
    log = (log_dir / "gunicorn.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter running our app
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=worker.ROOT,
        env=worker.process_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        worker.wait_for(lambda: _listening(port), timeout=30)
        yield process
    finally:
        worker.stop(process)
        log.close()


def _listening(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _chunks(body: bytes):
    yield from (body[start : start + 64] for start in range(0, len(body), 64))


@pytest.mark.django_db(transaction=True)  # the server process must see the channel
def test_gunicorn_stores_a_chunked_webhook_whole(endpoints, tmp_path):
    unipile = endpoints[Provider.UNIPILE]
    body, content_type, headers = unipile.request("message_received")
    port = worker.free_port()

    with _gunicorn(port, tmp_path):
        response = httpx.post(
            f"http://127.0.0.1:{port}{unipile.path}",
            content=_chunks(body),  # an iterator: httpx sends it chunked
            headers={**headers, "Content-Type": content_type},
            timeout=30,
        )

    assert response.status_code == 200
    assert bytes(WebhookEvent.objects.get().body) == body


@pytest.mark.django_db(transaction=True)
def test_runserver_refuses_a_chunked_webhook_with_411(endpoints, tmp_path):
    unipile = endpoints[Provider.UNIPILE]
    body, content_type, headers = unipile.request("message_received")
    port = worker.free_port()

    with worker.web_server(port=port, env=worker.process_env(), log_dir=tmp_path):
        response = httpx.post(
            f"http://127.0.0.1:{port}{unipile.path}",
            content=_chunks(body),
            headers={**headers, "Content-Type": content_type},
            timeout=30,
        )

    assert response.status_code == 411
    assert not WebhookEvent.objects.exists()
