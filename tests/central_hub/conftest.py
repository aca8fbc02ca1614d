"""Hub test fixtures: a store per back end (hub_db_url comes from tests/support/hub.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from central_hub.store import Store, open_store


@pytest.fixture
def store(hub_db_url: str) -> Iterator[Store]:
    s = open_store(hub_db_url)
    yield s
    s.close()
