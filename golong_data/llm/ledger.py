"""Money and tokens: the price table, the cost of a call, the dry-run estimate, the --max-cost budget,
and the end-of-run summary line. Pure functions plus one small stateful Budget; no I/O but reading the
user's price file.

Prices are USD per 1M tokens, {"input": ..., "output": ...}. Users edit them in a JSON file
($GOLONG_HOME/prices.json or LLMConfig.price_file) or pass LLMConfig.price_table; both override the
defaults below, which were list prices when written and will age: check your provider's page.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golong_data.errors import ConfigError
from golong_data.llm.contract import LOCAL_MODEL

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    LOCAL_MODEL: {"input": 0.0, "output": 0.0},  # runs on your CPU
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "gpt-4.1": {"input": 2.00, "output": 8.00},
}


def load_prices(
    price_table: dict[str, dict[str, float]] | None, price_file: Path | None
) -> dict[str, dict[str, float]]:
    """Defaults, then the user's JSON file (when it exists), then the explicit table: later wins."""
    prices = {k: dict(v) for k, v in DEFAULT_PRICES.items()}
    if price_file is not None and Path(price_file).exists():
        try:
            data = json.loads(Path(price_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"price file {price_file} is not valid JSON ({e})",
                              'write {"model": {"input": USD_per_1M, "output": USD_per_1M}}') from e
        prices.update(_checked(data, str(price_file)))
    if price_table:
        prices.update(_checked(price_table, "price_table"))
    return prices


def _checked(table: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected an object of models", '{"model": {"input": 0.15, "output": 0.6}}')
    out = {}
    for model, p in table.items():
        if not (isinstance(p, dict) and {"input", "output"} <= p.keys()):
            raise ConfigError(f"{where}: price of {model!r} needs 'input' and 'output' (USD per 1M tokens)")
        out[str(model)] = {"input": float(p["input"]), "output": float(p["output"])}
    return out


def price_of(prices: dict[str, dict[str, float]], model: str) -> dict[str, float] | None:
    """Exact name first, then the longest known prefix (dated snapshots like gpt-4o-mini-2024-07-18)."""
    if model in prices:
        return prices[model]
    best = max((k for k in prices if model.startswith(k)), key=len, default=None)
    return prices[best] if best else None


def cost_of(price: dict[str, float] | None, prompt_tokens: int, completion_tokens: int) -> float:
    if price is None:
        return 0.0
    return (prompt_tokens * price["input"] + completion_tokens * price["output"]) / 1_000_000


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A tokenizer-free estimate that leans high: 3 ASCII characters per token (BPE averages ~4 on English),
    one token per other character (CJK is ~1-1.5 per token), plus chat-format overhead per message.

    It sizes --dry-run estimates and --max-cost reservations, where erring high is the safe side; the ledger
    itself records the server's real counts.
    """
    n = 3
    for m in messages:
        c = m.get("content")
        text = c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)
        ascii_chars = sum(ch < "\x80" for ch in text)
        n += ascii_chars // 3 + (len(text) - ascii_chars) + 4
    return n


@dataclass
class Budget:
    """--max-cost: reserve each call's worst case before sending, settle with the real cost after.

    Reserving the worst case (estimated prompt + all max_tokens) means the cap is never overshot, however
    many calls are in flight; when the next call would not fit, the run stops dispatching, lets the calls
    in flight land in the cache, and reports. The next run replays those for free and goes on.
    """

    max_cost: float | None
    spent: float = 0.0
    reserved: float = 0.0

    def try_reserve(self, amount: float) -> bool:
        if self.max_cost is None:
            return True
        if self.spent + self.reserved + amount > self.max_cost:
            return False
        self.reserved += amount
        return True

    def settle(self, reserved: float, actual: float) -> None:
        if self.max_cost is not None:
            self.reserved -= reserved
        self.spent += actual


@dataclass
class RunTally:
    """What one run_batch did, for the summary line and the progress bar."""

    submitted: int = 0
    ok: int = 0
    failed: int = 0
    cached: int = 0
    calls: int = 0  # HTTP calls answered (paid), re-asks included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    spent: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)


def summary_line(stage: str, model: str, t: RunTally) -> str:
    line = (
        f"{stage}: {t.submitted} items = {t.ok} ok + {t.failed} failed"
        + (" (" + ", ".join(f"{r}: {n}" for r, n in sorted(t.reasons.items())) + ")" if t.reasons else "")
        + f"; {t.cached} from cache; {t.calls} calls to {model}, "
        f"{t.prompt_tokens} tokens in / {t.completion_tokens} out, ${t.spent:.4f}"
    )
    return line


def dry_run_line(stage: str, model: str, n_calls: int, n_cached: int, prompt_tokens: int, max_completion: int,
                 price: dict[str, float] | None) -> str:
    if price is None:
        cost = "unknown (no price for this model)"
    else:
        cost = f"<= ${cost_of(price, prompt_tokens, max_completion):.4f}"
    return (
        f"{stage} (dry run): {n_calls} calls to {model} ({n_cached} more served from cache), "
        f"~{prompt_tokens} prompt tokens, <= {max_completion} completion tokens, cost {cost}"
    )
