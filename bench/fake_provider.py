"""A local stand-in for Meta's Graph API send endpoint, for bench/outbound.py.

    python bench/fake_provider.py PORT

Answers every POST .../messages as Meta does on success (a new wamid), from a thread
per connection, keeping the connection alive as httpx expects. Each answer leaves in
one write with Nagle's algorithm off: written as headers then body, the body waited
for the client's delayed ACK of the headers, 40 ms per request on a kept-alive
connection (`bench/outbound.py --provider-alone` measures this server by itself).
"""

import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ids = itertools.count(1)


class GraphSend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: flushed once per request by the base class

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
                "messages": [{"id": f"wamid.fake.{next(_ids)}"}],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: the benchmark prints its own figures
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), GraphSend).serve_forever()
