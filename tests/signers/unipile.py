"""Authenticates a body the way a Unipile webhook does (contract D), for endpoint tests
and benchmarks: Unipile signs nothing, it sends back the header we configured."""


def sign(body: bytes, secret: str) -> dict[str, str]:
    return {"Unipile-Auth": secret}
