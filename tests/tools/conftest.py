"""Fixtures shared with the model-zoo tests (local file server, isolated zoo environment)."""

from tests.zoo.conftest import server, zoo_env  # noqa: F401
