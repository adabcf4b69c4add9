"""The embedded default LLM: SmolLM2-135M-Instruct (GGUF) served by llama-cpp-python on 127.0.0.1.

`scripts/setup_local_llm.sh` installs llama-cpp-python (built once per machine without AVX-512/AMX,
which fault on these VMs) and puts the GGUF into $GOLONG_HOME/models/. This module finds a running
server through its pid file, or starts one at a free port, waits until `/v1/models` answers, and stops
it by its pid. A file lock makes two processes starting at once share one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from golong_data.errors import GolongError
from golong_data.llm.cache import golong_home
from golong_data.llm.contract import LOCAL_MODEL

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PID_FILE = "local-llm.json"
LOG_FILE = "local-llm.log"
SETUP_LOCK = "local-llm-setup.lock"  # held by scripts/setup_local_llm.sh while it builds and installs
N_CTX = 8192  # the model's trained context
ORPHAN_GRACE_S = 30.0  # an auto-started server with no live user for this long exits by itself
SETUP_HINT = "run `make local-llm` (bash scripts/setup_local_llm.sh .venv/bin/python), or pass --base-url/--model"


@dataclass
class LocalServer:
    pid: int
    port: int
    base_url: str
    model: str
    model_path: str
    log_path: str
    started_at: float
    owner: str = "auto"  # "serve-local": kept until `serve-local --stop`; "auto": the last run using it stops it


def model_path() -> Path:
    return golong_home() / "models" / GGUF_NAME


def unavailable_reason(python: str | None = None) -> str | None:
    """Why the local server cannot start here (None when it can): the reason tests print when they skip."""
    if python is None and importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed in {sys.prefix}"
    if python is None:
        for mod in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
            if importlib.util.find_spec(mod) is None:
                return f"llama-cpp-python's server extra is incomplete: {mod} is missing"
    if not model_path().exists():
        return f"the model file {model_path()} is missing"
    return None


def setup_in_progress(home: Path | None = None) -> bool:
    """True while scripts/setup_local_llm.sh runs for this GOLONG_HOME (it holds the setup lock throughout)."""
    lock = (home or golong_home()) / SETUP_LOCK
    if not lock.exists():
        return False
    with open(lock) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _last_setup_failure(home: Path | None = None) -> str:
    """'; the last setup said: <why>' when a background setup gave up (its reason, not a guess), else ''."""
    try:
        lines = ((home or golong_home()) / "local-llm-setup.log").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    why = [ln for ln in lines if "NOT INSTALLED" in ln]
    return f"; the last setup said: {why[-1].strip()}" if why else ""


def wait_for_setup(home: Path | None = None, timeout_s: float = 3600.0, say_every_s: float = 10.0) -> bool:
    """Block while the local LLM is being set up (`make demo` builds llama-cpp-python in the background while
    the LLM-free stages run); True if it waited. A line every say_every_s seconds, so a log never goes silent."""
    home = home or golong_home()
    if not setup_in_progress(home):
        return False
    t0 = last = time.monotonic()
    log = home / "local-llm-setup.log"
    print(f"local LLM: waiting for its setup to finish (llama-cpp-python build; log: {log})", file=sys.stderr,
          flush=True)
    while setup_in_progress(home):
        if time.monotonic() - t0 > timeout_s:
            raise GolongError(f"the local LLM setup did not finish in {timeout_s:.0f} s", f"see {log}")
        if time.monotonic() - last >= say_every_s:
            print(f"local LLM: still waiting for its setup ({time.monotonic() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
            last = time.monotonic()
        time.sleep(0.5)
    importlib.invalidate_caches()  # the setup installed llama_cpp into this venv after we started
    print(f"local LLM: setup finished after {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) still answers kill(0); /proc says what it really is.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _is_our_server(pid: int) -> bool:
    """Guard against pid reuse: only signal a process whose command line is a llama_cpp server."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\x00", b" ")
    except OSError:
        return _alive(pid)  # no /proc (macOS): trust the pid file
    return b"llama_cpp.server" in cmd or b"golong_data.llm.local_server" in cmd


def _models_ok(base_url: str, timeout: float = 2.0) -> bool:
    import httpx  # lazy: httpx (0.1 s), only to probe a server

    try:
        r = httpx.get(f"{base_url}/models", timeout=timeout)
        return r.status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "local-llm.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def find_running(state_dir: Path | None = None) -> LocalServer | None:
    """The server named by the pid file, if that process is alive and answering; else None."""
    state_dir = Path(state_dir) if state_dir else golong_home()
    pf = state_dir / PID_FILE
    try:
        srv = LocalServer(**json.loads(pf.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(srv.pid) and _is_our_server(srv.pid) and _models_ok(srv.base_url):
        return srv
    return None


def _write_pid_file(state_dir: Path, srv: LocalServer) -> None:
    tmp = state_dir / f".{PID_FILE}.tmp"
    tmp.write_text(json.dumps(asdict(srv), indent=2))
    os.replace(tmp, state_dir / PID_FILE)


def start(state_dir: Path | None = None, port: int | None = None, wait_s: float = 120.0,
          threads: int | None = None, owner: str = "auto") -> tuple[LocalServer, bool]:
    """Return (server, started_here): reuse the running one, else start it and wait for /v1/models.

    owner="serve-local" marks the server as the user's (a run never stops it), also when it was running already.
    """
    state_dir = Path(state_dir) if state_dir else golong_home()
    with _locked(state_dir):
        running = find_running(state_dir)
        if running is not None and (port is None or running.port == port):
            if owner == "serve-local" and running.owner != owner:
                running.owner = owner
                _write_pid_file(state_dir, running)
            return running, False
        if running is not None:
            raise GolongError(f"the local LLM already runs on port {running.port}",
                              "stop it first with `golong-data serve-local --stop`")
        wait_for_setup()
        reason = unavailable_reason()
        if reason:
            raise GolongError(f"cannot start the local LLM: {reason}", SETUP_HINT + _last_setup_failure())
        port = port or _free_port()
        log_path = state_dir / LOG_FILE
        cmd = [
            # Through this module's __main__: llama_cpp.server plus a watchdog that ends an auto-started server
            # whose users all died (a killed run must not leave 650 MB behind).
            sys.executable, "-m", "golong_data.llm.local_server", str(state_dir), str(ORPHAN_GRACE_S),
            "--model", str(model_path()),
            "--model_alias", LOCAL_MODEL,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(N_CTX),
            "--n_threads", str(threads or os.cpu_count() or 2),
            "--verbose", "False",  # llama.cpp's per-token debug output; uvicorn still logs one line per request
        ]
        with open(log_path, "ab") as log:
            # A new session: the server outlives a Ctrl-C in the terminal that started it, and is stopped by pid.
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        srv = LocalServer(pid=proc.pid, port=port, base_url=f"http://127.0.0.1:{port}/v1", model=LOCAL_MODEL,
                          model_path=str(model_path()), log_path=str(log_path), started_at=time.time(), owner=owner)
        deadline = time.monotonic() + wait_s
        while not _models_ok(srv.base_url, timeout=1.0):
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                tail = log_path.read_text(errors="replace")[-1500:]
                raise GolongError(f"the local LLM server did not come up (exit {proc.returncode}); log tail:\n{tail}",
                                  f"see {log_path}; {SETUP_HINT}")
            time.sleep(0.2)
        _write_pid_file(state_dir, srv)
        return srv, True


def stop(state_dir: Path | None = None, timeout_s: float = 10.0) -> bool:
    """Stop the server named by the pid file (SIGTERM, then SIGKILL). True if one was stopped."""
    state_dir = Path(state_dir) if state_dir else golong_home()
    pf = state_dir / PID_FILE
    with _locked(state_dir):
        try:
            srv = LocalServer(**json.loads(pf.read_text()))
        except (OSError, ValueError, TypeError):
            return False
        stopped = False
        if _alive(srv.pid) and _is_our_server(srv.pid):
            os.kill(srv.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _alive(srv.pid) and time.monotonic() < deadline:
                _reap(srv.pid)
                time.sleep(0.1)
            if _alive(srv.pid):
                os.kill(srv.pid, signal.SIGKILL)
                deadline = time.monotonic() + 5.0
                while _alive(srv.pid) and time.monotonic() < deadline:
                    _reap(srv.pid)
                    time.sleep(0.05)
            _reap(srv.pid)
            stopped = True
        pf.unlink(missing_ok=True)
        return stopped


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (else it lingers as a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# ---------------------------------------------------------------- sharing one auto-started server
# Shards of a stage may run as parallel processes: the first starts the server, the others reuse it, and
# only the last one out stops it. Each user is a file named by its pid; dead pids do not count.
def _users_dir(state_dir: Path) -> Path:
    return state_dir / "local-llm.users"


def register_user(state_dir: Path | None = None) -> None:
    d = _users_dir(Path(state_dir) if state_dir else golong_home())
    d.mkdir(parents=True, exist_ok=True)
    (d / str(os.getpid())).touch()


def release_if_last(state_dir: Path | None = None) -> bool:
    """Unregister this process; stop an auto-started server when no live process uses it. True if stopped."""
    state_dir = Path(state_dir) if state_dir else golong_home()
    d = _users_dir(state_dir)
    (d / str(os.getpid())).unlink(missing_ok=True)
    with _locked(state_dir):
        others = [f for f in d.glob("*") if f.name.isdigit() and _alive(int(f.name))] if d.exists() else []
        try:
            owner = json.loads((state_dir / PID_FILE).read_text()).get("owner", "auto")
        except (OSError, ValueError):
            return False
    if others or owner != "auto":
        return False
    return stop(state_dir)


def _watchdog(state_dir: Path, grace_s: float) -> None:
    """In the server process: exit once an auto-owned server has had no live user for grace_s seconds."""
    idle_since = time.monotonic()
    while True:
        time.sleep(1.0)
        try:
            owner = json.loads((state_dir / PID_FILE).read_text()).get("owner", "auto")
        except (OSError, ValueError):
            owner = "auto"  # not written yet (starting up) or removed (stopping): the grace covers both
        d = _users_dir(state_dir)
        users = [f for f in d.glob("*") if f.name.isdigit() and _alive(int(f.name))] if d.exists() else []
        if owner != "auto" or users:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > grace_s:
            os._exit(0)


if __name__ == "__main__":  # python -m golong_data.llm.local_server STATE_DIR GRACE_S <llama_cpp.server args>
    import runpy
    import threading

    _state, _grace = Path(sys.argv[1]), float(sys.argv[2])
    threading.Thread(target=_watchdog, args=(_state, _grace), daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[3:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
