from __future__ import annotations

from celery import Celery
from dishka import Provider, Scope, provide, provide_all

from app.bootstrap.settings import Settings
from app.operations.application.commands.record_dead_letter import RecordDeadLetter
from app.operations.application.commands.requeue_dead_letter import RequeueDeadLetter
from app.operations.application.ports.dead_letters import DeadLetterStore, TaskQueue
from app.operations.application.queries.list_dead_letters import ListDeadLetters
from app.operations.infrastructure.celery_task_queue import CeleryTaskQueue
from app.operations.infrastructure.sqla_dead_letter_store import SqlaDeadLetterStore


class OperationsProviderSet(Provider):
    @provide(scope=Scope.APP)
    def queue(self, celery: Celery, settings: Settings) -> TaskQueue:
        return CeleryTaskQueue(celery, timeout=settings.celery.publish_timeout)

    store = provide(SqlaDeadLetterStore, provides=DeadLetterStore, scope=Scope.REQUEST)
    interactors = provide_all(
        RecordDeadLetter, RequeueDeadLetter, ListDeadLetters, scope=Scope.REQUEST
    )
