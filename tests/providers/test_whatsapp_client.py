import json
import pickle

import httpx
import pytest

from providers.events import MessageStatus
from providers.http import ProviderError, Sent
from providers.whatsapp_client import TEMPLATE_FIELDS, WhatsAppClient

TOKEN = "EAAG-test-token"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
GRAPH = "https://graph.facebook.com/v23.0"
MESSAGES_URL = f"{GRAPH}/{PHONE_NUMBER_ID}/messages"
TEMPLATES_URL = f"{GRAPH}/{WABA_ID}/message_templates"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA"

ACCEPTED = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
    "messages": [{"id": WAMID}],
}


@pytest.fixture
def client():
    with WhatsAppClient(
        access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID
    ) as whatsapp:
        yield whatsapp


def _graph_error(code: int, message: str, details: str = "") -> dict:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }
    }


def _sent_body(route) -> dict:
    return json.loads(route.calls.last.request.content)


# --- send_text ----------------------------------------------------------------------


def test_send_text_posts_the_documented_body_with_the_bearer_token(client, respx_mock):
    # given Meta accepts the message
    route = respx_mock.post(MESSAGES_URL).respond(200, json=ACCEPTED)

    # when a text is sent
    client.send_text(to="+16505551234", text="Your table is ready")

    # then the request is the A4 text body, authorised with the token, as JSON
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert _sent_body(route) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"body": "Your table is ready", "preview_url": False},
    }


def test_send_text_returns_the_wamid_as_queued(client, respx_mock):
    # given Meta accepts the message
    respx_mock.post(MESSAGES_URL).respond(200, json=ACCEPTED)

    # when a text is sent
    sent = client.send_text(to="+16505551234", text="Hi")

    # then the wamid is what status webhooks will name, and accepted is not yet sent
    assert sent == Sent(message_id=WAMID, status=MessageStatus.QUEUED, raw=ACCEPTED)


def test_a_reply_quotes_the_message_and_may_preview_links(client, respx_mock):
    route = respx_mock.post(MESSAGES_URL).respond(200, json=ACCEPTED)

    client.send_text(
        to="+16505551234", text="See https://example.com", reply_to="wamid.IN", preview_url=True
    )

    body = _sent_body(route)
    assert body["context"] == {"message_id": "wamid.IN"}
    assert body["text"] == {"body": "See https://example.com", "preview_url": True}


def test_a_wa_id_without_plus_is_sent_in_e164(client, respx_mock):
    # given a recipient known only by its wa_id (Meta's digits, no "+")
    route = respx_mock.post(MESSAGES_URL).respond(200, json=ACCEPTED)

    # when a text is sent to it
    client.send_text(to="16505551234", text="Hi")

    # then it goes out with "+", or Meta would prepend the business's country code
    assert _sent_body(route)["to"] == "+16505551234"


def test_a_recipient_that_is_not_a_number_fails_without_calling_meta(client, respx_mock):
    route = respx_mock.post(MESSAGES_URL)

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="not a number", text="Hi")

    assert raised.value.code == "invalid_recipient"
    assert raised.value.transient is False
    assert not route.called


# --- send_template --------------------------------------------------------------------


def test_send_template_posts_name_language_and_components(client, respx_mock):
    route = respx_mock.post(MESSAGES_URL).respond(200, json=ACCEPTED)
    components = [
        {"type": "body", "parameters": [{"type": "text", "parameter_name": "day", "text": "Sat"}]}
    ]

    sent = client.send_template(
        to="+16505551234", name="reservation_confirmation", language="en_US", components=components
    )

    assert sent.message_id == WAMID
    assert _sent_body(route) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "template",
        "template": {
            "name": "reservation_confirmation",
            "language": {"code": "en_US"},
            "components": components,
        },
    }


def test_a_template_without_parameters_sends_no_components(client, respx_mock):
    route = respx_mock.post(MESSAGES_URL).respond(200, json=ACCEPTED)

    client.send_template(to="+16505551234", name="hello_world", language="en_US", components=[])

    assert _sent_body(route)["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


# --- errors ---------------------------------------------------------------------------


def test_window_closed_is_a_permanent_error_with_meta_code_and_message(client, respx_mock):
    # given Meta refuses a free-form message outside the 24-hour window
    error = _graph_error(
        131047, "(#131047) Re-engagement message", "More than 24 hours have passed."
    )
    respx_mock.post(MESSAGES_URL).respond(400, json=error)

    # when a text is sent
    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+16505551234", text="Hi")

    # then the error is not worth retrying and says what Meta said
    assert raised.value.code == "131047"
    assert raised.value.transient is False
    assert raised.value.status_code == 400
    assert raised.value.title == (
        "(#131047) Re-engagement message: More than 24 hours have passed."
    )
    assert raised.value.raw["error"]["fbtrace_id"] == "Az8or2yhqkZfEZ-_4Qn_Bam"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        (130429, "throughput limit of the number"),
        (131056, "pair rate limit: too fast to one user"),
        (131000, "something went wrong at Meta"),
        (80007, "WABA rate limit"),
    ],
)
def test_metas_not_now_codes_are_transient_even_as_http_400(client, respx_mock, code, why):
    respx_mock.post(MESSAGES_URL).respond(400, json=_graph_error(code, f"(#{code}) {why}"))

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+16505551234", text="Hi")

    assert raised.value.code == str(code)
    assert raised.value.transient is True


def test_a_server_error_without_a_body_is_transient(client, respx_mock):
    respx_mock.post(MESSAGES_URL).respond(503, text="")

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+16505551234", text="Hi")

    assert raised.value.code == "503"
    assert raised.value.transient is True
    assert raised.value.raw == {}


def test_a_timeout_is_transient(client, respx_mock):
    respx_mock.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+16505551234", text="Hi")

    assert raised.value.code == "timeout"
    assert raised.value.transient is True
    assert raised.value.status_code is None


def test_a_200_without_a_message_id_is_a_permanent_error(client, respx_mock):
    # given Meta answers 200 but names no message (it may still have sent it)
    respx_mock.post(MESSAGES_URL).respond(200, json={"messaging_product": "whatsapp"})

    # when a text is sent
    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+16505551234", text="Hi")

    # then it is an error, and not retried: a retry could deliver the text twice
    assert raised.value.code == "unexpected_response"
    assert raised.value.transient is False
    assert raised.value.status_code == 200


def test_a_provider_error_reads_well_and_survives_pickling():
    # Celery pickles the exception of a failed or retried send task.
    error = ProviderError(
        code="131056", title="Pair rate limit", status_code=400, transient=True, raw={"a": 1}
    )

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, round-tripped

    assert str(error) == "[131056] Pair rate limit (HTTP 400, transient)"
    assert (copy.code, copy.title, copy.status_code, copy.transient, copy.raw) == (
        "131056",
        "Pair rate limit",
        400,
        True,
        {"a": 1},
    )


# --- templates ------------------------------------------------------------------------


def _page(names: list[str], after: str | None) -> dict:
    page = {"data": [{"name": name, "id": f"id-{name}"} for name in names]}
    if after:
        page["paging"] = {
            "cursors": {"before": "B", "after": after},
            "next": f"{TEMPLATES_URL}?after={after}",
        }
    return page


def test_templates_follows_every_page_by_its_after_cursor(client, respx_mock):
    # given three pages of templates
    route = respx_mock.get(TEMPLATES_URL).mock(
        side_effect=[
            httpx.Response(200, json=_page(["a", "b"], after="CURSOR1")),
            httpx.Response(200, json=_page(["c"], after="CURSOR2")),
            httpx.Response(200, json=_page(["d"], after=None)),
        ]
    )

    # when every template is listed
    names = [template["name"] for template in client.templates(limit=2)]

    # then all pages are read, each asking for the page after the previous one
    assert names == ["a", "b", "c", "d"]
    params = [dict(call.request.url.params) for call in route.calls]
    assert [p.get("after") for p in params] == [None, "CURSOR1", "CURSOR2"]
    assert all(p["fields"] == TEMPLATE_FIELDS and p["limit"] == "2" for p in params)


def test_a_next_page_without_a_cursor_is_an_error_not_a_short_list(client, respx_mock):
    page = {"data": [{"name": "a"}], "paging": {"next": f"{TEMPLATES_URL}?page=2"}}
    respx_mock.get(TEMPLATES_URL).respond(200, json=page)

    with pytest.raises(ProviderError) as raised:
        list(client.templates())

    assert raised.value.code == "paging"


def test_template_create_posts_the_payload_and_returns_metas_answer(client, respx_mock):
    answer = {"id": "546151681022936", "status": "PENDING", "category": "UTILITY"}
    route = respx_mock.post(TEMPLATES_URL).respond(200, json=answer)
    payload = {"name": "order_ready", "language": "en_US", "category": "utility", "components": []}

    created = client.template_create(payload=payload)

    assert created == answer
    assert json.loads(route.calls.last.request.content) == payload


def test_template_delete_names_the_template_and_its_id(client, respx_mock):
    route = respx_mock.delete(TEMPLATES_URL).respond(200, json={"success": True})

    client.template_delete(name="order_ready", template_id="546151681022936")

    params = dict(route.calls.last.request.url.params)
    assert params == {"name": "order_ready", "hsm_id": "546151681022936"}


def test_template_delete_by_name_alone_sends_no_hsm_id(client, respx_mock):
    route = respx_mock.delete(TEMPLATES_URL).respond(200, json={"success": True})

    client.template_delete(name="order_ready")

    assert dict(route.calls.last.request.url.params) == {"name": "order_ready"}


def test_a_waba_rate_limit_on_templates_is_transient(client, respx_mock):
    respx_mock.get(TEMPLATES_URL).respond(400, json=_graph_error(80007, "(#80007) Rate limit"))

    with pytest.raises(ProviderError) as raised:
        list(client.templates())

    assert raised.value.transient is True


def test_templates_need_a_waba_id():
    whatsapp = WhatsAppClient(access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID)

    with whatsapp, pytest.raises(ValueError, match="waba_id"):
        list(whatsapp.templates())


# --- pointing elsewhere ---------------------------------------------------------------


def test_base_url_version_and_transport_point_the_client_at_a_fake_server():
    # given a local fake Graph API that records what it is asked
    seen = []

    def fake_graph(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=ACCEPTED)

    client = WhatsAppClient(
        access_token=TOKEN,
        phone_number_id=PHONE_NUMBER_ID,
        version="v25.0",
        base_url="http://localhost:8765/graph",
        transport=httpx.MockTransport(fake_graph),
    )

    # when a text is sent
    with client:
        client.send_text(to="+16505551234", text="Hi")

    # then it went to the fake, under the chosen version
    assert [str(url) for url in seen] == [
        f"http://localhost:8765/graph/v25.0/{PHONE_NUMBER_ID}/messages"
    ]


def test_reading_the_number_asks_meta_for_it_with_the_token(client, respx_mock):
    route = respx_mock.get(f"{GRAPH}/{PHONE_NUMBER_ID}").respond(
        200,
        json={
            "verified_name": "Jasper's Market",
            "display_phone_number": "+1 631-555-5555",
            "id": PHONE_NUMBER_ID,
        },
    )

    number = client.phone_number_read()

    assert number["id"] == PHONE_NUMBER_ID
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.url.params["fields"] == "id,display_phone_number,verified_name"


def test_a_number_the_token_cannot_read_is_a_permanent_error(client, respx_mock):
    respx_mock.get(f"{GRAPH}/{PHONE_NUMBER_ID}").respond(
        400,
        json={
            "error": {
                "message": "Unsupported get request.",
                "type": "GraphMethodException",
                "code": 100,
                "error_subcode": 33,
            }
        },
    )

    with pytest.raises(ProviderError) as raised:
        client.phone_number_read()

    assert (raised.value.code, raised.value.transient) == ("100", False)


# --- mark_read (typing indicator) -------------------------------------------------------


def test_mark_read_with_typing_posts_the_documented_body(client, respx_mock):
    route = respx_mock.post(MESSAGES_URL).respond(200, json={"success": True})

    client.mark_read(message_id=WAMID, typing=True)

    assert _sent_body(route) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": WAMID,
        "typing_indicator": {"type": "text"},
    }


def test_mark_read_alone_sends_no_typing_indicator(client, respx_mock):
    route = respx_mock.post(MESSAGES_URL).respond(200, json={"success": True})

    client.mark_read(message_id=WAMID)

    assert "typing_indicator" not in _sent_body(route)


def test_mark_read_refused_is_a_provider_error_with_metas_code(client, respx_mock):
    respx_mock.post(MESSAGES_URL).respond(
        400, json=_graph_error(100, "Invalid parameter", "message_id is not valid")
    )

    with pytest.raises(ProviderError) as refused:
        client.mark_read(message_id="wamid.unknown", typing=True)
    assert refused.value.code == "100"


def test_mark_read_answered_without_success_is_unexpected(client, respx_mock):
    respx_mock.post(MESSAGES_URL).respond(200, json={"success": False})

    with pytest.raises(ProviderError) as unexpected:
        client.mark_read(message_id=WAMID, typing=True)
    assert unexpected.value.code == "unexpected_response"
