"""Shared fixtures. The real-stack fixtures live in lab_fixtures.py."""

from vaxeld.logs import configure_logging

configure_logging("json")

pytest_plugins = ["lab_fixtures"]
