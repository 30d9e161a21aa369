"""Shared pytest configuration: integration tests are marked by folder and run destructive ones last."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)
    # `drill clean` removes every labelled resource, so tests marked destructive run after all others.
    items.sort(key=lambda it: it.get_closest_marker("destructive") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "destructive: removes every drills resource; runs last")
