from __future__ import annotations

from fastapi.security import OAuth2PasswordBearer

# Declares bearer auth in OpenAPI (Swagger's lock); the ActorProvider does the checking.
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
