"""The id of the request that the running code serves, for logs, problem bodies and the outbox.

Set by the API's observability middleware for each request and by the worker for each task (from
the task's headers), so a task's log lines carry the id of the request that caused it.
"""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
