"""A local stand-in for Twilio's Messages list, for bench/reconcile.py.

    python bench/fake_twilio.py PORT COUNT [CUSTOMERS]

Serves COUNT messages (made up from their index, so the server holds none of them) in
pages of the requested PageSize, linked by next_page_uri as Twilio does.
"""

import json
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT = "AC" + "1" * 32
OUR_NUMBER = "+14155550100"
START = datetime.now(UTC) - timedelta(hours=40)


def message(n: int, customers: int) -> dict:
    inbound = n % 3 != 0
    customer = f"+1650{n % customers:07d}"
    at = format_datetime(START + timedelta(seconds=n))
    return {
        "sid": f"SM{n:032d}",
        "direction": "inbound" if inbound else "outbound-api",
        "from": customer if inbound else OUR_NUMBER,
        "to": OUR_NUMBER if inbound else customer,
        "body": f"Message {n}: does it come in another colour?",
        "status": "received" if inbound else "delivered",
        "num_media": "0",
        "num_segments": "1",
        "error_code": None,
        "error_message": None,
        "date_created": at,
        "date_sent": at,
    }


class MessagesList(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0
    customers = 1

    def do_GET(self):
        query = parse_qs(urlsplit(self.path).query)
        size = int(query.get("PageSize", ["50"])[0])
        page = int(query.get("Page", ["0"])[0])
        first = page * size
        items = [message(n, self.customers) for n in range(first, min(first + size, self.count))]
        more = first + size < self.count
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        body = json.dumps(
            {
                "messages": items,
                "next_page_uri": f"{path}?PageSize={size}&Page={page + 1}&PageToken=PA{page + 1}"
                if more
                else None,
                "page": page,
                "page_size": size,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    MessagesList.count = int(sys.argv[2])
    MessagesList.customers = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), MessagesList).serve_forever()
