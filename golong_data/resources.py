"""Where the bundled data files live: taxonomy.yaml and prompts/ (at the repository root, where users edit them).

A source checkout or editable install reads them there. A wheel installs the same files under
<prefix>/share/golong-data (pyproject.toml: [tool.setuptools.data-files]), with the same layout, so the
taxonomy's relative prompt paths hold in both.
"""

from __future__ import annotations

import sys
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]
PACKAGED = "_data"  # golong_data/_data: where the copy the Ray executor ships to its workers carries them


def data_dir(source_root: Path = SOURCE_ROOT, prefix: Path | None = None) -> Path:
    """The folder holding taxonomy.yaml and prompts/: the checkout's root, else the package's own copy (a Ray
    worker's), else the installed share folder. When none has them, the checkout's root, so that the caller's
    "not found" error names a real path."""
    packaged = Path(__file__).resolve().parent / PACKAGED
    for d in (source_root, packaged, Path(prefix or sys.prefix) / "share" / "golong-data"):
        if (d / "taxonomy.yaml").is_file():
            return d
    return source_root
