"""A wheel install works without the checkout: taxonomy.yaml and prompts/ travel in the wheel and are found."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from golong_data.resources import data_dir
from golong_data.tasks import TASK_BUILDERS
from golong_data.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parents[1]


def test_data_dir_prefers_the_checkout_then_the_installed_share(tmp_path: Path) -> None:
    checkout, prefix = tmp_path / "checkout", tmp_path / "prefix"
    share = prefix / "share" / "golong-data"
    share.mkdir(parents=True)
    assert data_dir(checkout, prefix) == checkout  # neither has it: the checkout, for a clear "not found"
    (share / "taxonomy.yaml").write_text("x")
    assert data_dir(checkout, prefix) == share
    checkout.mkdir()
    (checkout / "taxonomy.yaml").write_text("x")
    assert data_dir(checkout, prefix) == checkout


def test_a_built_wheel_carries_the_taxonomy_and_every_prompt(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "taxonomy.yaml"):
        shutil.copy(REPO / name, src / name)
    for name in ("golong_data", "prompts"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, capture_output=True, timeout=240)
    (whl,) = (tmp_path / "dist").glob("golong_data-*.whl")
    # pip installs <name>.data/data/* under the environment's prefix: do the same into a scratch prefix
    prefix = tmp_path / "prefix"
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            head, _, rest = n.partition(".data/data/")
            if rest and head.startswith("golong_data-"):
                (prefix / rest).parent.mkdir(parents=True, exist_ok=True)
                (prefix / rest).write_bytes(z.read(n))
    found = data_dir(tmp_path / "no-checkout", prefix)
    assert found == prefix / "share" / "golong-data"
    tax = load_taxonomy(found / "taxonomy.yaml")  # checks that every task's prompt file exists
    assert set(tax.tasks) == set(TASK_BUILDERS)
    assert (found / "prompts" / "solve.md").read_bytes() == (REPO / "prompts" / "solve.md").read_bytes()
