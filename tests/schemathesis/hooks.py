"""Schemathesis hooks for the onecard API fuzz (loaded through SCHEMATHESIS_HOOKS by run.sh).

Treasury requests must carry an HMAC signature over the exact request (API.md §Remittance):

    METHOD \n PATH?QUERY \n TIMESTAMP \n hex(SHA-256(body))

keyed with the treasury client's secret as ASCII bytes, in `X-Onecard-Timestamp` and
`X-Onecard-Request-Signature: hmac-sha256=<base64>`. The signature is made as a `requests` auth
callable, which sees the prepared request — the URL and body bytes exactly as they will be
sent — so what is signed is what the service receives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

import requests
import schemathesis

TREASURY_PREFIX = "/v1/treasury/"


class TreasurySigner(requests.auth.AuthBase):
    """Signs a prepared request the way the treasury's puller does."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode("ascii")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray)):
            # A streamed body cannot be signed here; no treasury operation takes one.
            body = b""
        timestamp = str(int(time.time()))
        # path_url is the path and, when there is one, `?query`, as sent.
        canonical = "\n".join(
            [request.method or "GET", request.path_url, timestamp, hashlib.sha256(body).hexdigest()]
        )
        tag = hmac.new(self.secret, canonical.encode("utf-8"), hashlib.sha256).digest()
        request.headers["X-Onecard-Timestamp"] = timestamp
        request.headers["X-Onecard-Request-Signature"] = "hmac-sha256=" + base64.b64encode(tag).decode("ascii")
        return request


_SECRET = os.environ.get("ONECARD_FUZZ_TREASURY_SECRET", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Signs every request to a treasury operation (the bearer token comes from the config)."""
    if _SECRET and case.operation.path.startswith(TREASURY_PREFIX):
        kwargs["auth"] = TreasurySigner(_SECRET)
