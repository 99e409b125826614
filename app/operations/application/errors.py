from __future__ import annotations

from app.shared.domain.errors import ConflictError, NotFoundError


class DeadLetterNotFoundError(NotFoundError):
    code = "dead_letter_not_found"


class AlreadyRequeuedError(ConflictError):
    code = "dead_letter_already_requeued"
