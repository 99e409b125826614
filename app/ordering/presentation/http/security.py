from __future__ import annotations

from fastapi.security import OAuth2PasswordBearer

# Declares the bearer scheme in OpenAPI (Swagger's Authorize button) for the order routes; the
# shared ActorProvider does the checking. The same scheme name as identity's, so one
# authorization in Swagger covers every context.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
