"""How each provider signs its webhooks, for tests and benchmarks.

One module per provider (`tests/signers/<provider>.py`), each with functions that take
a body (or Twilio's URL and parameters) and a secret and return the HTTP headers the
provider would send.
"""
