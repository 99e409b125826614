"""Wiring of the identity context: ports to adapters, interactors per request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

from dishka import Provider, Scope, provide, provide_all
from redis.asyncio import Redis
from starlette.requests import Request

from app.bootstrap.settings import Settings
from app.identity.application.commands.activate_user import ActivateUser
from app.identity.application.commands.change_password import ChangePassword
from app.identity.application.commands.create_super_admin import CreateSuperAdmin
from app.identity.application.commands.deactivate_user import DeactivateUser
from app.identity.application.commands.grant_role import GrantRole
from app.identity.application.commands.log_in import LogIn
from app.identity.application.commands.log_out import LogOut
from app.identity.application.commands.log_out_everywhere import LogOutEverywhere
from app.identity.application.commands.refresh_session import RefreshSession
from app.identity.application.commands.revoke_role import RevokeRole
from app.identity.application.commands.sign_up import SignUp
from app.identity.application.current_actor import CurrentActor
from app.identity.application.current_user import CurrentUser
from app.identity.application.ports.auth import AccessTokenCodec, IdentityProvider, SessionStore
from app.identity.application.ports.login_throttle import LoginThrottle
from app.identity.application.ports.user_reader import UserReader
from app.identity.application.ports.user_repository import UserRepository
from app.identity.application.queries.get_me import GetMe
from app.identity.application.queries.get_user import GetUser
from app.identity.application.queries.list_users import ListUsers
from app.identity.domain.ports import PasswordHasher, UserIdGenerator
from app.identity.domain.user_service import UserService
from app.identity.domain.value_objects import UserId
from app.identity.infrastructure.argon2_password_hasher import Argon2PasswordHasher
from app.identity.infrastructure.jwt_access_tokens import JwtAccessTokens
from app.identity.infrastructure.redis_login_throttle import RedisLoginThrottle
from app.identity.infrastructure.redis_session_store import RedisSessionStore
from app.identity.infrastructure.sqla_user_directory import SqlaUserDirectory
from app.identity.infrastructure.sqla_user_reader import SqlaUserReader
from app.identity.infrastructure.sqla_user_repository import SqlaUserRepository
from app.identity.presentation.http.auth import CookiePolicy, HttpIdentityProvider
from app.shared.application.actor import ActorProvider
from app.shared.application.directory import UserDirectory
from app.shared.application.ports import Clock
from app.shared.application.rate_limit import RateLimiter


def _new_user_id() -> UserId:
    return UserId(uuid.uuid4())


class IdentityProviderSet(Provider):
    """Adapters and interactors of the identity context."""

    @provide(scope=Scope.APP)
    def password_hasher(self, settings: Settings) -> Iterator[PasswordHasher]:
        auth = settings.auth
        hasher = Argon2PasswordHasher(
            time_cost=auth.argon2_time_cost,
            memory_cost_kib=auth.argon2_memory_kib,
            parallelism=auth.argon2_parallelism,
            max_threads=auth.hash_threads,
            max_waiting=auth.hash_queue,
            nice=auth.hash_nice,
        )
        yield hasher
        hasher.close()

    @provide(scope=Scope.APP)
    def user_id_generator(self) -> UserIdGenerator:
        return _new_user_id

    @provide(scope=Scope.APP)
    def access_tokens(self, settings: Settings, clock: Clock) -> AccessTokenCodec:
        auth = settings.auth
        return JwtAccessTokens(
            secret=auth.jwt_secret.get_secret_value(),
            ttl=timedelta(seconds=auth.access_ttl_seconds),
            issuer=auth.jwt_issuer,
            audience=auth.jwt_audience,
            clock=clock,
        )

    @provide(scope=Scope.APP)
    def session_store(self, redis: Redis, settings: Settings) -> SessionStore:
        return RedisSessionStore(
            redis,
            idle_ttl_seconds=settings.auth.refresh_ttl_seconds,
            max_age_seconds=settings.auth.session_max_age_seconds,
        )

    @provide(scope=Scope.APP)
    def login_throttle(
        self, redis: Redis, limiter: RateLimiter, settings: Settings
    ) -> LoginThrottle:
        auth = settings.auth
        return RedisLoginThrottle(
            redis,
            limiter,
            free_failures=auth.login_free_failures,
            max_backoff_seconds=auth.login_backoff_max_seconds,
            window_seconds=auth.login_failure_window_seconds,
            known_network_seconds=auth.session_max_age_seconds,
            ipv6_prefix=settings.rate_limit.ipv6_prefix,
            operation_timeout=settings.rate_limit.operation_timeout,
        )

    @provide(scope=Scope.APP)
    def cookie_policy(self, settings: Settings) -> CookiePolicy:
        auth = settings.auth
        return CookiePolicy(
            secure=auth.cookie_secure,
            samesite=auth.cookie_samesite,
            access_max_age=auth.access_ttl_seconds,
            refresh_max_age=auth.refresh_ttl_seconds,
            refresh_path=f"{settings.http.root_path.rstrip('/')}/api/v1/auth",
        )

    user_service = provide(UserService, scope=Scope.APP)
    users = provide(SqlaUserRepository, provides=UserRepository, scope=Scope.REQUEST)
    reader = provide(SqlaUserReader, provides=UserReader, scope=Scope.REQUEST)
    current_user = provide(CurrentUser, scope=Scope.REQUEST)
    # Identity fulfils the shared directory contract the notifications context reads.
    directory = provide(SqlaUserDirectory, provides=UserDirectory, scope=Scope.REQUEST)
    current_actor = provide(CurrentActor, provides=ActorProvider, scope=Scope.REQUEST)

    @provide(scope=Scope.REQUEST)
    def identity(
        self, request: Request, tokens: AccessTokenCodec, sessions: SessionStore
    ) -> IdentityProvider:
        return HttpIdentityProvider(request, tokens, sessions)

    interactors = provide_all(
        SignUp,
        LogIn,
        LogOut,
        LogOutEverywhere,
        RefreshSession,
        ChangePassword,
        GrantRole,
        RevokeRole,
        DeactivateUser,
        ActivateUser,
        CreateSuperAdmin,
        GetMe,
        GetUser,
        ListUsers,
        scope=Scope.REQUEST,
    )
