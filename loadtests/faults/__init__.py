"""Faults under load: a real platform (gunicorn API, Celery worker and beat) on private
PostgreSQL and Redis servers, a steady load, and one dependency broken at a time
(``python -m loadtests.faults``; docs/13-testing.md#reliability-faults-under-load)."""
