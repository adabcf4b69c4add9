"""A Ray task for the two-node test: which node ran it, and where its golong_data was imported from. A module of
its own so that Ray workers import it by name (tests/shards is put on their path)."""

from __future__ import annotations

import time


def where(hold_s: float = 0.0) -> dict[str, str]:
    import ray

    import golong_data

    time.sleep(hold_s)  # holds its CPU, so that concurrent probes must spread over the nodes
    return {"node": ray.get_runtime_context().get_node_id(), "golong_data": golong_data.__file__}
