from __future__ import annotations

from app.identity.domain.errors import EmailTakenError, UsernameTakenError
from app.identity.infrastructure.tables import UQ_USERS_EMAIL, UQ_USERS_USERNAME
from app.shared.infrastructure.transaction import ConstraintErrors

IDENTITY_CONSTRAINT_ERRORS: ConstraintErrors = {
    UQ_USERS_USERNAME: lambda: UsernameTakenError("This username is taken."),
    UQ_USERS_EMAIL: lambda: EmailTakenError("An account with this e-mail already exists."),
}
