"""The export mix, pure: per task type the taxonomy share of `size`, inside a type equal draws per length bucket
and difficulty band, short cells filled from the same type only (see golong_data.export.stage)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

BANDS = ("hard", "medium", "easy", "unrated")


def difficulty_band(pass_rate: float | None) -> str:
    """Pass rate (mean reward of k rollouts) -> band. With k = 8: 1-2 hard, 3-5 medium, 6-8 easy."""
    if pass_rate is None:
        return "unrated"
    if pass_rate <= 0.25:
        return "hard"
    return "medium" if pass_rate < 0.75 else "easy"


@dataclass
class Entry:
    """What pass 1 keeps of a sample: enough to choose the mix and find the line again."""

    id: str
    task_type: str
    bucket: str
    band: str
    n_tokens: int
    file: int  # index into the list of pooled files
    offset: int
    length: int
    origin: str  # "synthetic" or "import:<file name>"
    generator: str  # "kind/name@version model=... prompt=sha" (provenance)
    key: str = ""  # seeded sort key: the deterministic shuffle
    verifier: str = ""  # "gold, band(model=...)": which checks passed it, with which model (provenance)
    # The shortcut check's numbers ({profile, chance, scores, gold}) under the export profile: from the
    # verification block when verify used that profile, else measured while the row is written (pass 2).
    blind: dict[str, Any] | None = None


@dataclass
class Shortfall:
    pool: str  # "task/bucket/band", "task" or "task (val)"
    quota: int
    available: int
    note: str

    def line(self) -> str:
        return (
            f"{self.pool}: quota {self.quota}, pool has {self.available} -> short by "
            f"{self.quota - self.available} ({self.note})"
        )


def seeded_key(seed: int, sample_id: str) -> str:
    """A per-sample sort key: the same seed and id give the same order on any machine."""
    return hashlib.sha256(f"{seed}\x00{sample_id}".encode()).hexdigest()


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integer quotas proportional to weights, summing exactly to `total` (Hamilton's method)."""
    wsum = math.fsum(weights.values())
    if total <= 0 or wsum <= 0:
        return {k: 0 for k in weights}
    raw = {k: total * w / wsum for k, w in weights.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    left = total - sum(out.values())
    # Ties broken by name so the split never depends on dict order.
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:left]:
        out[k] += 1
    return out


def water_fill(capacity: dict[str, int], total: int) -> dict[str, int]:
    """Split `total` as equally as possible over cells, none above its capacity.

    Cells that run out leave their remainder to the others (the QwenLong-L1.5 'equal draws per band',
    made to add up when some band is small). Deterministic: remainders go to cells in name order.
    """
    alloc = {k: 0 for k in capacity}
    remaining = min(total, sum(capacity.values()))
    open_cells = sorted(k for k, c in capacity.items() if c > 0)
    while remaining > 0 and open_cells:
        per, extra = divmod(remaining, len(open_cells))
        for i, k in enumerate(open_cells):
            give = min(per + (1 if i < extra else 0), capacity[k] - alloc[k])
            alloc[k] += give
            remaining -= give
        open_cells = [k for k in open_cells if alloc[k] < capacity[k]]
    return alloc


def choose_mix(
    entries: list[Entry], shares: dict[str, float], size: int, val_per_type: int, seed: int
) -> tuple[list[Entry], list[Entry], list[Shortfall]]:
    """Pick (train, val) from the pool by type share, then equal per bucket, then equal per band."""
    for e in entries:
        e.key = seeded_key(seed, e.id)
    by_type: dict[str, list[Entry]] = {}
    for e in entries:
        by_type.setdefault(e.task_type, []).append(e)
    for lst in by_type.values():
        lst.sort(key=lambda e: e.key)
    quotas = largest_remainder(size, shares)
    train: list[Entry] = []
    val: list[Entry] = []
    short: list[Shortfall] = []
    for task in shares:
        pool = by_type.get(task, [])
        # Validation first, at most a fifth of the type's pool so a small pool still trains.
        n_val = min(val_per_type, len(pool) // 5)
        if n_val < val_per_type:
            short.append(Shortfall(f"{task} (val)", val_per_type, n_val, "validation capped at a fifth of the pool"))
        val.extend(pool[:n_val])
        rest = pool[n_val:]
        q = quotas.get(task, 0)
        if len(rest) < q:
            short.append(Shortfall(task, q, len(rest), "not padded with other task types"))
        cells: dict[str, dict[str, list[Entry]]] = {}
        for e in rest:
            cells.setdefault(e.bucket, {}).setdefault(e.band, []).append(e)
        bucket_alloc = water_fill({b: sum(len(v) for v in bands.values()) for b, bands in cells.items()}, q)
        # When the type itself runs short every cell is used up; only a met quota can be unevenly spread.
        even_bucket = q // max(1, len(cells)) if len(rest) >= q else 0
        for b in sorted(cells):
            bands = cells[b]
            if bucket_alloc[b] < even_bucket:
                short.append(
                    Shortfall(f"{task}/{b}", even_bucket, bucket_alloc[b], "filled from the type's other buckets")
                )
            band_alloc = water_fill({k: len(v) for k, v in bands.items()}, bucket_alloc[b])
            rated = [k for k in bands if k != "unrated"]
            even_band = bucket_alloc[b] // max(1, len(bands)) if len(rest) >= q else 0
            for k in sorted(bands):
                if rated and band_alloc[k] < even_band:
                    short.append(
                        Shortfall(f"{task}/{b}/{k}", even_band, band_alloc[k], "filled from the bucket's other bands")
                    )
                train.extend(bands[k][: band_alloc[k]])
    unknown = sorted(set(by_type) - set(shares))
    for t in unknown:  # a type the taxonomy gives no share: reported, never mixed in silently
        short.append(Shortfall(t, 0, len(by_type[t]), "task type not in the taxonomy; left out"))
    train.sort(key=lambda e: e.key)
    val.sort(key=lambda e: (e.task_type, e.key))
    return train, val, short
