"""One line chart (y in [0, 1]) as a PNG: matplotlib when installed (the [card] extra), else a plain PNG
written here (the GPU box has no matplotlib), so a run always leaves its curves."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

Series = dict[str, tuple[list[float], list[float]]]  # name -> (xs, ys)


def write_png(path: Path, series: Series, xlabel: str = "step", ylabel: str = "mean reward", title: str = "",
              w: int = 720, h: int = 400) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    try:
        import matplotlib  # lazy: matplotlib, an optional extra

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(w / 100, h / 100), dpi=100)
        for name, (xs, ys) in series.items():
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
        if title:
            ax.set_title(title)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(tmp, format="png")
        plt.close(fig)
    except ImportError:
        tmp.write_bytes(_plain_png(series, w, h))
    tmp.replace(path)


def _plain_png(series: Series, w: int, h: int) -> bytes:
    """Lines only (no axes or legend): enough to see a curve rise where matplotlib is missing."""
    colors = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75)]
    px = [[(255, 255, 255)] * w for _ in range(h)]
    allx = [x for xs, _ in series.values() for x in xs] or [0.0]
    x_lo, x_hi = min(allx), max(allx)
    for i, (xs, ys) in enumerate(series.values()):
        col = colors[i % len(colors)]
        pts = [(int(20 + (w - 40) * (x - x_lo) / max(1e-9, x_hi - x_lo)),
                int(h - 20 - (h - 40) * min(1.0, max(0.0, y)))) for x, y in zip(xs, ys, strict=True)]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            for t in range(101):
                x, y = round(x0 + (x1 - x0) * t / 100), round(y0 + (y1 - y0) * t / 100)
                for dy in (0, 1):
                    if 0 <= y + dy < h and 0 <= x < w:
                        px[y + dy][x] = col
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in px)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
