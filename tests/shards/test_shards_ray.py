"""The Ray executor on a local Ray instance (2 CPUs, one session for the module): the same bytes as the local
executor, and a killed task retried without repeating its LLM calls."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from shards_helpers import FILES, same_bytes, shard_front

from golong_data.pipeline.executor import RayExecutor, Task

try:
    import ray
except ImportError:  # the [ray] extra is optional; `make install` includes it, so CI runs these
    ray = None

pytestmark = pytest.mark.skipif(ray is None, reason="ray is not installed (pip install 'golong-data[ray]')")
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    assert ray is not None
    # Ray workers are fresh processes: put this directory (the test's task module) on their path.
    path = os.pathsep.join([str(HERE), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


def test_ray_executor_equals_local_executor(ray_session: None, corpus: Path, sharded_local: Path,
                                            tmp_path: Path) -> None:
    shard_front(RayExecutor(progress=False), corpus, tmp_path)
    for stage, names in FILES.items():
        for name in names:
            same_bytes(sharded_local / stage / name, tmp_path / stage / name)


def test_ray_retries_a_killed_task_without_repeating_llm_calls(ray_session: None, tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE.parent / "llm"))
    from fake_openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        kw = {"base_url": srv.base_url, "n": 8, "cache_path": str(tmp_path / "cache.sqlite")}
        tasks = [Task(f"llm shard {i}", "shard_llm_task:llm_task", {**kw, "marker": str(tmp_path / f"killed{i}"),
                                                                   "prefix": f"shard{i}"}) for i in range(2)]
        # retries=2, not 1: once in several CI runs a Ray worker died a second time (WORKER_DIED on the retry,
        # cause not found in Ray's logs; never reproduced alone). Each task dies on purpose only once, so a
        # spare retry absorbs such a death without weakening what is asserted below.
        out = RayExecutor(retries=2, progress=False).run(tasks)
    assert all((tmp_path / f"killed{i}").exists() for i in range(2))  # each first attempt died
    assert [len(o) for o in out] == [8, 8]
    # 16 distinct prompts, each sent once: the retried attempts replayed what the killed ones had paid for
    assert srv.requests == 16 and set(srv.seen.values()) == {1}, (srv.requests, srv.seen, srv.fates)


def test_ray_reports_a_task_that_keeps_failing(ray_session: None) -> None:
    from golong_data.errors import GolongError

    bad = Task("bad shard", "golong_data.pipeline.stages:get_stage", {"name": "no-such-stage"})
    with pytest.raises(GolongError, match="'bad shard' failed after 1 retries"):
        RayExecutor(retries=1, progress=False).run([bad])


def test_ray_synthesize_and_verify_shards_equal_the_single_run(ray_session: None, sharded_local: Path,
                                                               tmp_path: Path) -> None:
    """The LLM-facing stages as Ray tasks (LLM calls from Ray workers to the endpoint), merged: one run's bytes."""
    from golong_data.config import EndpointConfig, VerifyConfig
    from golong_data.pipeline.sharded import run_sharded
    from golong_data.pipeline.stages import STAGES
    from golong_data.synth.stage import SynthConfig, run_synthesize
    from golong_data.verify.stage import run_verify

    sys.path.insert(0, str(HERE.parent / "llm"))
    from fake_openai_server import FakeOpenAIServer

    synth = SynthConfig(per_type=2, buckets=["2k"], tasks=["precise_retrieval", "sequence_ordering",
                                                           "exhaustive_retrieval"])
    run_synthesize(sharded_local / "dedup", tmp_path / "single" / "synthesize", synth)
    run_sharded(STAGES["synthesize"], RayExecutor(progress=False), 3, sharded_local / "dedup",
                tmp_path / "ray" / "synthesize", synth)
    with FakeOpenAIServer() as srv:
        def vcfg(name: str) -> VerifyConfig:
            return VerifyConfig(checks=["gold", "nocontext"], solver="fake", endpoint=EndpointConfig(
                base_url=srv.base_url, cache_path=str(tmp_path / f"{name}.sqlite")))

        run_verify(tmp_path / "single" / "synthesize", tmp_path / "single" / "verify", vcfg("single"))
        run_sharded(STAGES["verify"], RayExecutor(progress=False), 3, tmp_path / "ray" / "synthesize",
                    tmp_path / "ray" / "verify", vcfg("ray"))
    for stage, name in (("synthesize", "samples.jsonl"), ("synthesize", "rejected.jsonl"),
                        ("verify", "verified.jsonl"), ("verify", "rejected.jsonl")):
        same_bytes(tmp_path / "single" / stage / name, tmp_path / "ray" / stage / name)
    assert (tmp_path / "single" / "verify" / "verified.jsonl").read_text().count("\n") >= 3
    assert sorted(p.name for p in (tmp_path / "ray" / "verify.shards").iterdir()) == ["0", "1", "2"]
