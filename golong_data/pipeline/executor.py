"""Run shard tasks: `local` (a process pool on this machine) or `ray` (a Ray cluster, or a local Ray instance).

    ex = get_executor("local", workers=2)            # or get_executor("ray", address="auto")
    results = ex.run([Task("ingest 0/4", "golong_data.ingest.stage:run_ingest", {...}), ...])

A Task names its function as "module:function" with plain keyword arguments, so any worker -- a forked
process, a Ray worker on another node with golong-data installed -- imports and calls the same code. Every
shard task writes its own output directory through StageRun (temp files, manifest last), so running a task
twice is harmless: that is what makes retries safe. LLM calls inside a task go through the one LLM layer,
whose SQLite cache (WAL) commits each response on arrival: a retried task replays the answers its killed
attempt already paid for instead of calling again.

Results come back in task order whatever order tasks finish in; progress is one bar over all tasks.
Ray is imported only inside RayExecutor.run (`pip install golong-data[ray]`). The code reaches Ray workers
through Ray's runtime_env (`py_modules`: this driver's golong_data package, with taxonomy.yaml and prompts/
inside it), so every node runs the driver's code whatever golong-data it has installed, or none; the nodes
need only the dependencies (`pip install 'golong-data[ray]'`).
"""

from __future__ import annotations

import importlib
import multiprocessing
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import golong_data
from golong_data import resources
from golong_data.errors import ConfigError, GolongError
from golong_data.ingest.stage import default_workers
from golong_data.progress import progress as _progress

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Task:
    name: str  # for progress and errors, e.g. "ingest 2/4"
    fn: str  # "package.module:function"
    kwargs: dict[str, Any] = field(default_factory=dict)


def call(task: Task) -> Any:
    """Run one task in whatever process this is."""
    module, _, name = task.fn.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn(**task.kwargs)


def _bar(total: int, desc: str, progress: bool | None) -> Any:
    return _progress(total=total, desc=desc, unit="task", enabled=progress)


class LocalExecutor:
    """A process pool on this machine; a task that raises, or whose worker dies, is retried `retries` times."""

    def __init__(self, workers: int = 1, retries: int = 2, progress: bool | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.workers, self.retries, self.progress = workers, retries, progress

    def run(self, tasks: Sequence[Task], desc: str = "shards") -> list[Any]:
        results: dict[int, Any] = {}
        tries = [0] * len(tasks)
        todo = list(range(len(tasks)))
        bar = _bar(len(tasks), desc, self.progress)
        try:
            while todo:
                failed = self._round(tasks, todo, results, bar)
                for i, err in failed:
                    tries[i] += 1
                    if tries[i] > self.retries:
                        raise GolongError(f"task {tasks[i].name!r} failed {tries[i]} times: {err}",
                                          "see the error above; rerun the same command to resume") from None
                todo = [i for i, _ in failed]
        finally:
            bar.close()
        return [results[i] for i in range(len(tasks))]

    def _round(self, tasks: Sequence[Task], todo: list[int], results: dict[int, Any],
               bar: Any) -> list[tuple[int, BaseException]]:
        """Run `todo` once; returns the (index, error) of those that failed."""
        failed: list[tuple[int, BaseException]] = []
        if self.workers == 1:
            for i in todo:  # in-process, as the stage commands run: no start-up, and tracebacks stay readable
                try:
                    results[i] = call(tasks[i])
                    bar.update(1)
                except Exception as e:  # noqa: BLE001 - retried, then reported with the task's name
                    failed.append((i, e))
            return failed

        # One forked process per task, not a ProcessPoolExecutor: when one of its workers dies the pool is
        # "broken" and kills the others too, mid-task, losing their in-flight LLM answers. Here a death costs
        # only that task's attempt. fork, as ingest's reader pool: workers start with golong_data imported.
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        queue = list(todo)
        running: dict[Any, tuple[int, Any]] = {}  # result pipe -> (task index, process)
        while queue or running:
            while queue and len(running) < self.workers:
                i = queue.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(tasks[i], send), name=f"golong-data {tasks[i].name}")
                proc.start()
                send.close()  # the child holds the only write end: its exit makes our end readable (EOF)
                running[recv] = (i, proc)
            for conn in wait(list(running)):
                i, proc = running.pop(conn)
                try:
                    ok, payload = conn.recv()
                except EOFError:
                    proc.join()
                    ok, payload = False, RuntimeError(f"worker process died (exit code {proc.exitcode})")
                conn.close()
                proc.join()
                if ok:
                    results[i] = payload
                    bar.update(1)
                else:
                    failed.append((i, payload))
        return failed


def _child(task: Task, conn: Any) -> None:
    """A local worker: run one task, send (ok, result or error) back."""
    try:
        out: tuple[bool, Any] = (True, call(task))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which retries or names the task
        out = (False, RuntimeError(f"{type(e).__name__}: {e}"))
    conn.send(out)
    conn.close()


def stage_package(dest: Path) -> Path:
    """Copy golong_data, with the data files it reads (resources.PACKAGED), into dest/golong_data: what Ray
    ships to every worker as a py_module. Returns that directory."""
    pkg = Path(golong_data.__file__).resolve().parent
    out = dest / "golong_data"
    shutil.copytree(pkg, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", resources.PACKAGED))
    src, data = resources.data_dir(), out / resources.PACKAGED
    data.mkdir()
    shutil.copy2(src / "taxonomy.yaml", data / "taxonomy.yaml")
    shutil.copytree(src / "prompts", data / "prompts", ignore=shutil.ignore_patterns("__pycache__"))
    return out


def ray_runtime_env(tmp: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job's runtime_env: `extra` (e.g. env_vars) plus golong_data staged under tmp as a py_module."""
    env = dict(extra or {})
    env["py_modules"] = [*env.get("py_modules", []), str(stage_package(tmp))]
    return env


class RayExecutor:
    """The same tasks as Ray tasks. `address`: a running cluster ("auto", "ray://head:10001"); None starts a
    local Ray instance with `workers` CPUs. `runtime_env`: more of the job's runtime_env (env_vars, pip, ...).
    A task whose worker dies (OOM, kill -9, lost node) or that raises is retried by Ray up to `retries` times."""

    def __init__(self, address: str | None = None, workers: int | None = None, retries: int = 2,
                 progress: bool | None = None, runtime_env: dict[str, Any] | None = None) -> None:
        self.address, self.workers, self.retries = address, workers, retries
        self.progress, self.runtime_env = progress, runtime_env  # the job's (e.g. env_vars), as ray.init takes

    def _init(self) -> Any:
        try:
            import ray  # lazy: ray, an optional extra
        except ImportError:
            raise GolongError("the ray executor needs Ray", "pip install 'golong-data[ray]'") from None
        if not ray.is_initialized():
            # Ray uploads local py_modules only at the job level, at init (content-addressed, so once per
            # version of the code); a Ray the caller initialised ships whatever its runtime_env says.
            with tempfile.TemporaryDirectory(prefix="golong-ray-") as tmp:
                kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "runtime_env": ray_runtime_env(Path(tmp), self.runtime_env)}
                if self.address:
                    ray.init(address=self.address, **kw)
                else:
                    ray.init(num_cpus=self.workers, **kw)
        return ray

    def run(self, tasks: Sequence[Task], desc: str = "shards") -> list[Any]:
        ray = self._init()
        remote = ray.remote(num_cpus=1, max_retries=self.retries, retry_exceptions=True)(call)
        refs = [remote.options(name=t.name).remote(t) for t in tasks]
        bar = _bar(len(tasks), desc, self.progress)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                bar.update(len(done))
            return [self._get(ray, r, t) for r, t in zip(refs, tasks, strict=True)]
        finally:
            bar.close()

    def _get(self, ray: Any, ref: Any, task: Task) -> Any:
        try:
            return ray.get(ref)
        except Exception as e:  # RayTaskError / WorkerCrashedError after the last retry
            raise GolongError(f"task {task.name!r} failed after {self.retries} retries: {type(e).__name__}: {e}",
                              "see the error above; rerun the same command to resume") from None


def get_executor(kind: str, workers: int | None = None, address: str | None = None, retries: int = 2,
                 progress: bool | None = None) -> LocalExecutor | RayExecutor:
    if kind == "local":
        if address:
            raise ConfigError("--ray-address is for --executor ray")
        if workers is None:
            workers = default_workers()  # CPU cores, at most 8
        return LocalExecutor(workers, retries, progress)
    if kind == "ray":
        return RayExecutor(address, workers, retries, progress)
    raise ConfigError(f"unknown executor {kind!r}; expected one of: {', '.join(EXECUTORS)}")
