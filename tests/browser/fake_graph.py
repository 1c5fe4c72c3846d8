"""A local stand-in for Meta's Graph API for browser tests: the app's send task (in the
live server's process) reaches it over real HTTP, as it would reach Meta.

It answers POST .../messages as Meta does (a new wamid), keeps what it was sent, and,
once the test releases it, reports each accepted message back as `sent` through the
app's real webhook endpoint, signed with the channel's app secret, as Meta does.
"""

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.signers import whatsapp_cloud

PHONE_NUMBER_ID = "106540352242922"  # tests.webhooks.conftest's channel
WABA_ID = "102290129340398"


@dataclass
class FakeGraph:
    url: str
    webhook_url: str
    app_secret: str
    sent: list[dict] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def accept(self, body: dict) -> str:
        wamid = f"wamid.fake.{next(self._ids)}"
        self.sent.append({**body, "wamid": wamid})
        return wamid

    def report_sent(self) -> None:
        """Meta's `sent` status webhook for every message accepted so far."""
        for message in self.sent:
            body = json.dumps(_status(message["wamid"], message.get("to", ""))).encode()
            headers = {
                **whatsapp_cloud.sign(body, self.app_secret),
                "Content-Type": "application/json",
            }
            answer = httpx.post(self.webhook_url, content=body, headers=headers, timeout=10)
            answer.raise_for_status()


def _status(wamid: str, to: str) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "statuses": [
                                {
                                    "id": wamid,
                                    "status": "sent",
                                    "timestamp": str(int(time.time())),
                                    "recipient_id": to.lstrip("+"),
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


@contextmanager
def fake_graph(*, webhook_url: str, app_secret: str) -> Iterator[FakeGraph]:
    graph: FakeGraph

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            wamid = graph.accept(json.loads(raw or b"{}"))
            reply = json.dumps(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
                    "messages": [{"id": wamid}],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    graph = FakeGraph(
        url=f"http://127.0.0.1:{server.server_port}",
        webhook_url=webhook_url,
        app_secret=app_secret,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield graph
    finally:
        server.shutdown()
        server.server_close()
