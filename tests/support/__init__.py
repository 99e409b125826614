"""Helpers shared by the test suites, one module per concern: ``polling`` (waiting on a signal
with a generous deadline), ``sql`` (one-shot SQL on the test database), ``ports`` (free and dead
TCP ports). Fixtures built on them live in the ``conftest.py`` files."""
