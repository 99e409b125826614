"""The bearer scheme every authenticated route declares, once for all contexts."""

from __future__ import annotations

from fastapi.security import OAuth2PasswordBearer

# Declares the OAuth2 password flow in OpenAPI (Swagger's Authorize button), so one authorization
# in Swagger covers every context's routes. It rejects nothing (auto_error=False): the check is
# IdentityProvider's, reached through the interactors (the ActorProvider or the session).
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
