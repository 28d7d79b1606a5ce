"""The fake Hub fixture (tests/fakehub.py) for Hub models given to the API."""

from tests.planner.hub.conftest import hub  # noqa: F401
