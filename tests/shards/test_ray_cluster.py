"""A real two-node Ray cluster on this machine, started as on real machines: `ray start --head` and a second
`ray start --address=...`, each node with its own CPU, resources and temp dir. `golong-data run` with a `shards:`
section drives it from a separate process and writes the unsharded run's bytes; tasks land on both nodes and
import golong_data from the copy the executor ships through runtime_env, not from this checkout; a worker killed
mid-task is retried without loss.

Ray 2.60's `ray start --head` turns on token authentication; the nodes and drivers here run with
RAY_AUTH_MODE=disabled (on a real cluster: share the token, see the README)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_run_sharded import COMPARED, _config

from golong_data.pipeline.executor import RayExecutor, Task
from golong_data.pipeline.run import run_pipeline

try:
    import ray
except ImportError:  # the [ray] extra is optional; `make install` includes it, so CI runs these
    ray = None

pytestmark = pytest.mark.skipif(ray is None, reason="ray is not installed (pip install 'golong-data[ray]')")
HERE = Path(__file__).parent
REPO = HERE.parents[1]
RAY = str(Path(sys.executable).parent / "ray")


def _ray_start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    # --block: the node lives as long as this process, so the fixture stops exactly the nodes it started
    return subprocess.Popen([RAY, "start", "--block", *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env, cwd=log.parent, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The head's address. The nodes start without this checkout on PYTHONPATH: their workers get golong_data
    only as the executor's runtime_env py_module (an installed golong-data is behind it on sys.path)."""
    tmp = tmp_path_factory.mktemp("ray")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"RAY_AUTH_MODE": "disabled"}
    nodes = [_ray_start(["--head", "--port=0", "--num-cpus=1", "--include-dashboard=false",
                         f"--temp-dir={tmp / 'head'}"], tmp / "head.log", env)]
    try:
        address = ""
        for _ in range(120):
            if m := re.search(r"ray start --address='([^']+)'", (tmp / "head.log").read_text()):
                address = m.group(1)
                break
            assert nodes[0].poll() is None, (tmp / "head.log").read_text()
            time.sleep(0.5)
        assert address, (tmp / "head.log").read_text()
        nodes.append(_ray_start([f"--address={address}", "--num-cpus=1", '--resources={"second_node": 1}',
                                 f"--temp-dir={tmp / 'node2'}"], tmp / "node2.log", env))
        with pytest.MonkeyPatch.context() as mp:  # for the drivers of this module's tests
            mp.setenv("RAY_AUTH_MODE", "disabled")
            ray.init(address=address, log_to_driver=False)
            for _ in range(120):
                if sum(n["Alive"] for n in ray.nodes()) == 2:
                    break
                time.sleep(0.5)
            assert sum(n["Alive"] for n in ray.nodes()) == 2, (tmp / "node2.log").read_text()
            ray.shutdown()
            yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for p in reversed(nodes):
            os.killpg(p.pid, signal.SIGTERM)  # its own session: `ray start` and the node processes it started
        for p in nodes:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                # `ray start --block` waits ~30 s on SIGTERM for its node processes to drain; these are test nodes
                # with nothing left to save, so end the whole session at once
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)


def test_golong_data_run_on_two_nodes_equals_the_single_run(cluster: str, tmp_path: Path, fake_server: Any) -> None:
    srv = fake_server()
    single = run_pipeline(_config(tmp_path, "single", srv.base_url))
    cfg = _config(tmp_path, "cluster", srv.base_url, shards={"n": 3, "executor": "ray", "ray_address": cluster})
    assert yaml.safe_load(cfg.read_text())["shards"] == {"n": 3, "executor": "ray", "ray_address": cluster}
    # the CLI, as a user runs it on the head node: its own driver process, connecting to the running cluster
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run([sys.executable, "-m", "golong_data.cli", "run", str(cfg)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert single.ran == list(COMPARED)
    for stage, names in COMPARED.items():
        for name in names:
            a, b = tmp_path / "single" / stage / name, tmp_path / "cluster" / stage / name
            assert a.read_bytes() == b.read_bytes(), f"{stage}/{name} differs"
    for stage in ("ingest", "chunk", "synthesize", "verify"):  # the work really was split into 3 shard tasks
        assert sorted(p.name for p in (tmp_path / "cluster" / f"{stage}.shards").iterdir()) == ["0", "1", "2"]


def _executor(cluster: str, **kw: Any) -> RayExecutor:
    # the test's own task modules (not golong_data) reach the workers by PYTHONPATH
    path = os.pathsep.join([str(HERE), str(HERE.parent / "llm")])
    return RayExecutor(address=cluster, progress=False, runtime_env={"env_vars": {"PYTHONPATH": path}}, **kw)


def test_tasks_spread_over_both_nodes_with_the_shipped_code(cluster: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Ray puts the driver's working directory on its workers' sys.path; here (one host) that would be the
    # checkout. On a real cluster that path is not on the other nodes: run the driver from elsewhere, as there.
    monkeypatch.chdir(tmp_path)
    out = _executor(cluster).run([Task(f"probe {i}", "ray_probe:where", {"hold_s": 2.0}) for i in range(2)])
    assert {o["node"] for o in out} == {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len({o["node"] for o in out}) == 2
    for o in out:  # Ray's copy of the py_module, not this checkout nor an installed golong-data
        assert "/runtime_resources/py_modules_files/" in o["golong_data"], o
        assert not o["golong_data"].startswith(str(REPO)), o


def test_a_worker_killed_mid_task_is_retried_without_loss(cluster: str, tmp_path: Path, fake_server: Any) -> None:
    srv = fake_server()
    kw = {"base_url": srv.base_url, "n": 8, "cache_path": str(tmp_path / "cache.sqlite")}
    tasks = [Task(f"llm shard {i}", "shard_llm_task:llm_task",
                  {**kw, "marker": str(tmp_path / f"killed{i}"), "prefix": f"shard{i}"}) for i in range(2)]
    out = _executor(cluster, retries=2).run(tasks)
    assert all((tmp_path / f"killed{i}").exists() for i in range(2))  # each first attempt died (os._exit)
    assert [len(o) for o in out] == [8, 8]
    # 16 distinct prompts, each sent once: the retried attempts replayed what the killed ones had paid for
    assert srv.requests == 16 and set(srv.seen.values()) == {1}, (srv.requests, srv.seen, srv.fates)
