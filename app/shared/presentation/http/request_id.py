from __future__ import annotations

import re
import uuid

# Accept upstream ids (load balancers, other services) only when they are short and plain, so a
# client cannot inject text into logs; anything else is replaced by a fresh id.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def is_acceptable_request_id(value: str) -> bool:
    return bool(_ACCEPTABLE.fullmatch(value))
