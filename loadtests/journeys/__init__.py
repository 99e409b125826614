"""Locust journeys of the platform's users (see loadtests/locustfile.py and docs/15)."""
