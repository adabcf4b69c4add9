"""The LLM log: an append-only SQLite store (WAL) of every response, and of every item's outcome per run.

Practice taken from simonw/llm (`migrations.py`, content-hash keys over canonical JSON): the schema
grows by numbered migrations that run once each; rows are only ever added. A response is keyed by
sha256 of the canonical JSON of the normalised request (model, messages, sampling params, seed,
schema). The response *parser* is not part of the key (as in Curator), so a parser fix replays cached
responses for free; `--refresh` appends a newer answer and the newest row for a key wins.

Each response is committed the moment it arrives (WAL + synchronous=NORMAL survives kill -9 of the
process), so a killed run loses only the requests that were in flight.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golong_data import crashpoints, paths
from golong_data.errors import GolongError

CACHE_FILE = "llm_cache.sqlite"


def golong_home() -> Path:
    """Where per-user state lives (golong_data.paths): $GOLONG_HOME, else ~/.cache/golong-data."""
    return paths.home()


def default_cache_path(cache_path: str | Path | None = None) -> Path:
    return Path(cache_path) if cache_path else golong_home() / CACHE_FILE


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: equal values give equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def normalise_request(
    model: str,
    messages: list[dict[str, Any]],
    temperature: float,
    max_tokens: int,
    seed: int,
    json_schema: dict[str, Any] | None,
) -> dict[str, Any]:
    """What decides the answer, in one canonical shape (the cache key hashes exactly this).

    Messages keep only role, content and name: extra keys callers carry along must not change the key.
    Numbers are coerced so 0 and 0.0 hash alike.
    """
    msgs = []
    for m in messages:
        nm: dict[str, Any] = {"role": str(m["role"]), "content": m.get("content")}
        if m.get("name"):
            nm["name"] = str(m["name"])
        msgs.append(nm)
    return {
        "model": model,
        "messages": msgs,
        "temperature": float(temperature),
        "max_tokens": int(max_tokens),
        "seed": int(seed),
        "json_schema": json_schema,
    }


def request_key(normalised: dict[str, Any]) -> str:
    return request_key_of(canonical_json(normalised))


def request_key_of(request_json: str) -> str:
    """The cache key of a request already serialised by canonical_json."""
    return hashlib.sha256(request_json.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


# ---------------------------------------------------------------- migrations (numbered, each runs once)
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_responses(db: sqlite3.Connection) -> None:
    # One row per answered HTTP call: the cache, and (since each was paid once) the spend record.
    db.execute(
        """CREATE TABLE responses (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            model TEXT NOT NULL,
            request TEXT NOT NULL,
            text TEXT NOT NULL,
            finish_reason TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cost REAL NOT NULL,
            run_id TEXT NOT NULL,
            stage TEXT NOT NULL,
            task_type TEXT,
            duration_ms INTEGER NOT NULL,
            created_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX responses_key ON responses(key)")


@migration
def m002_outcomes(db: sqlite3.Connection) -> None:
    # One row per item per run: the failure ledger (ok=0 rows carry the reason) and cache-hit accounting.
    db.execute(
        """CREATE TABLE outcomes (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            stage TEXT NOT NULL,
            task_type TEXT,
            model TEXT NOT NULL,
            item_key TEXT NOT NULL,
            request_key TEXT NOT NULL,
            ok INTEGER NOT NULL,
            reason TEXT,
            detail TEXT,
            cached INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            created_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX outcomes_run ON outcomes(run_id)")


def migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with db:  # each migration and its marker commit together, or not at all
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (fn.__name__, time.time()))


class LLMCache:
    """The SQLite store. `read=False` ignores stored answers (--refresh / --no-cache); `write=False` keeps
    answers out of the file (--no-cache), while outcomes are always ledgered."""

    def __init__(self, path: str | Path, read: bool = True, write: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.read = read
        self.write = write
        # isolation_level=None: we open transactions explicitly, one per write, committed at once.
        # check_same_thread=False: run_batch may drive its loop in a helper thread (inside a notebook's loop);
        # the connection is still used by one thread at a time.
        self.db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable against process crashes; one fsync per checkpoint
        self.db.execute("PRAGMA busy_timeout=30000")
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> LLMCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> CachedResponse | None:
        if not self.read:
            return None
        row = self.db.execute(
            "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ? "
            "ORDER BY id DESC LIMIT 1",
            (key,),
        ).fetchone()
        return CachedResponse(*row) if row else None

    def put(
        self,
        key: str,
        normalised: dict[str, Any],
        resp: CachedResponse,
        *,
        cost: float,
        run_id: str,
        stage: str,
        task_type: str | None,
        duration_ms: int,
        request_json: str | None = None,
    ) -> None:
        """Store one answer (autocommit: durable on return). `request_json`: canonical_json(normalised) when
        the caller has it already."""
        if not self.write:
            return
        self.db.execute(
            "INSERT INTO responses (key, model, request, text, finish_reason, prompt_tokens, completion_tokens, "
            "cost, run_id, stage, task_type, duration_ms, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                normalised["model"],
                request_json if request_json is not None else canonical_json(normalised),
                resp.text,
                resp.finish_reason,
                resp.prompt_tokens,
                resp.completion_tokens,
                cost,
                run_id,
                stage,
                task_type,
                duration_ms,
                time.time(),
            ),
        )
        crashpoints.hit("llm")

    def record_outcomes(self, rows: Iterable[dict[str, Any]]) -> None:
        """Ledger item outcomes (one transaction for the lot: cheap for 10,000 cache replays)."""
        cols = (
            "run_id", "stage", "task_type", "model", "item_key", "request_key", "ok", "reason", "detail",
            "cached", "prompt_tokens", "completion_tokens",
        )
        now = time.time()
        data = [tuple(r.get(c) for c in cols) + (now,) for r in rows]
        if not data:
            return
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                f"INSERT INTO outcomes ({', '.join(cols)}, created_at) VALUES ({', '.join('?' * (len(cols) + 1))})",
                data,
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def failures(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """The failure ledger: every item that ended without a result, with its reason and detail."""
        sql = "SELECT run_id, stage, task_type, model, item_key, reason, detail FROM outcomes WHERE ok = 0"
        args: tuple[Any, ...] = ()
        if run_id:
            sql += " AND run_id = ?"
            args = (run_id,)
        names = ("run_id", "stage", "task_type", "model", "item_key", "reason", "detail")
        return [dict(zip(names, row, strict=True)) for row in self.db.execute(sql + " ORDER BY id", args)]

    def spend(self, group_by: tuple[str, ...] = ("stage", "task_type", "model")) -> list[dict[str, Any]]:
        """Tokens in/out, calls and cost of every paid call, grouped (each cached response was paid once)."""
        allowed = {"stage", "task_type", "model", "run_id"}
        if not set(group_by) <= allowed:
            raise ValueError(f"group_by must be among {sorted(allowed)}")
        g = ", ".join(group_by)
        sql = (
            f"SELECT {g}, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost) FROM responses "
            f"GROUP BY {g} ORDER BY {g}"
        )
        names = (*group_by, "calls", "prompt_tokens", "completion_tokens", "cost")
        return [dict(zip(names, row, strict=True)) for row in self.db.execute(sql)]


def _cache_file(p: Path) -> Path:
    return p / CACHE_FILE if p.is_dir() or not p.suffix else p


def merge_llm_caches(sources: Sequence[Path], dest: Path) -> str:
    """Copy the rows of several LLM caches (one per node: SQLite's WAL cannot be shared over NFS) into `dest`.

    Rows already in `dest` (same key/run/time) are skipped, so merging again adds nothing; new rows go in by
    creation time across all sources, so "the newest row for a key wins" (--refresh) still holds after the
    merge. Returns the one-line summary."""
    dest_file = _cache_file(Path(dest))
    files = [_cache_file(Path(s)) for s in sources]
    for f in files:
        if not f.is_file():
            raise GolongError(f"{f} not found", "pass LLM cache files (llm_cache.sqlite) or the dirs holding them")
    added = {"responses": 0, "outcomes": 0}
    with LLMCache(dest_file) as cache:  # creates dest and runs the schema migrations
        db = cache.db
        for table, cols, same in (("responses", _RESPONSE_COLS, ("key", "run_id", "created_at")),
                                  ("outcomes", _OUTCOME_COLS, ("run_id", "item_key", "request_key", "created_at"))):
            c = ", ".join(cols)
            db.execute(f"CREATE TEMP TABLE staged AS SELECT {c} FROM main.{table} WHERE 0")
            for f in files:
                db.execute("ATTACH DATABASE ? AS src", (str(f),))
                try:
                    db.execute(f"INSERT INTO staged SELECT {c} FROM src.{table} ORDER BY id")
                except sqlite3.OperationalError as e:
                    raise GolongError(f"{f}: not an LLM cache ({e})") from None
                finally:
                    db.execute("DETACH DATABASE src")
            match = " AND ".join(f"m.{k} IS s.{k}" for k in same)
            with db:
                cur = db.execute(f"INSERT INTO main.{table} ({c}) SELECT DISTINCT {c} FROM staged s WHERE NOT EXISTS "
                                 f"(SELECT 1 FROM main.{table} m WHERE {match}) ORDER BY s.created_at")
            added[table] = cur.rowcount
            db.execute("DROP TABLE temp.staged")
    return (f"merge: {added['responses']} responses and {added['outcomes']} outcomes from {len(files)} caches "
            f"into {dest_file}")


# ---------------------------------------------------------------- LLM caches of several nodes
_RESPONSE_COLS = ("key", "model", "request", "text", "finish_reason", "prompt_tokens", "completion_tokens", "cost",
                  "run_id", "stage", "task_type", "duration_ms", "created_at")


_OUTCOME_COLS = ("run_id", "stage", "task_type", "model", "item_key", "request_key", "ok", "reason", "detail",
                 "cached", "prompt_tokens", "completion_tokens", "created_at")
