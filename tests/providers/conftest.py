"""Providers open no database: the PostgreSQL run skips them (the SQLite run has them)."""

from __future__ import annotations

import pytest

from tests import backend


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not backend.ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="providers open no database: the SQLite run covers them")
    for item in items:
        if item.path.parent.name == "providers":
            item.add_marker(skip)
