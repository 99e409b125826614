"""uvicorn's HTTP protocol (httptools), with one change: a request it cannot parse is answered
as every other error is, an RFC 9457 problem (``application/problem+json``) with the security
headers, not uvicorn's ``text/plain`` line.

httptools refuses such a request before the app sees any of it: a control character in a header
value (an ``Idempotency-Key`` of ``"a\\x01b"``), a malformed request line or chunk. The OpenAPI
promises a problem for a 400, and schemathesis holds the server to it.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Final

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.shared.presentation.http.problems import PROBLEM_JSON
from app.shared.presentation.http.security import (
    CONTENT_SECURITY_POLICY,
    NO_STORE,
    SECURITY_HEADERS,
)

_STATUS: Final = HTTPStatus.BAD_REQUEST
_HEADERS: Final = (*SECURITY_HEADERS, CONTENT_SECURITY_POLICY, NO_STORE)


def _problem(instance: str) -> bytes:
    return json.dumps(
        {
            "type": "urn:problem-type:bad_request",
            "title": _STATUS.phrase,
            "status": int(_STATUS),
            "detail": "The request is not valid HTTP: its request line or a header holds "
            "something HTTP forbids, such as a control character.",
            "instance": instance,
            "code": "bad_request",
            "request_id": None,  # the app, which gives requests their ids, never saw this one
        }
    ).encode()


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's text, replaced
        # The path, when httptools read that much of the request line.
        url = getattr(self, "url", b"").partition(b"?")[0]
        body = _problem(url.decode("latin-1"))
        content = [STATUS_LINE[int(_STATUS)]]
        for name, value in (*self.server_state.default_headers, *_HEADERS):
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
