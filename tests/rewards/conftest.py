"""Reward tests start with the router's "warned once per route per process" memory empty, whatever ran before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from golong_data.rewards import router


@pytest.fixture(autouse=True)
def fresh_route_warnings() -> Iterator[None]:
    router._warned.clear()
    yield
    router._warned.clear()
