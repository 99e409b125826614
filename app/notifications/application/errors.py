from __future__ import annotations


class TemporaryEmailFailureError(Exception):
    """The mail server asked to try again later (an SMTP 4xx reply)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
