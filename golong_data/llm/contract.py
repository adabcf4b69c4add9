"""The LLM layer's contract: what a stage sends (LLMRequest), how (LLMConfig), what comes back (LLMResult).

Stages build LLMRequests, call `run_batch`, and get one LLMResult per request in the same order:
either `ok` with the text (and `parsed` JSON when a schema was asked for), or not ok with a short
machine-readable `error` reason and the specifics in `detail` (the raw text for schema failures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The name the embedded llama.cpp server serves SmolLM2-135M-Instruct under (its --model_alias).
LOCAL_MODEL = "smollm2-135m"


@dataclass
class LLMConfig:
    base_url: str | None = None  # None: $OPENAI_BASE_URL, else OpenAI when $<api_key_env> is set, else the local server
    model: str | None = None  # None: $OPENAI_MODEL, else the local model's name when the local server is used
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable holding the key; the key itself is never stored
    max_in_flight: int = 8  # concurrent requests (1 for the local model); AIMD lowers it while 429s keep coming
    timeout_s: float = 120.0  # per HTTP request
    max_retries: int = 5  # per request, on 429 / 5xx / timeouts / connection errors / malformed bodies
    max_cost: float | None = None  # USD for this run's new calls (cache hits are free); None = no cap
    cache_path: str | Path | None = None  # None: $GOLONG_HOME/llm_cache.sqlite, else ~/.cache/golong-data/...
    price_table: dict[str, dict[str, float]] | None = None  # {model: {"input": $/1M tok, "output": $/1M tok}}
    price_file: str | Path | None = None  # JSON price table over the defaults (default: $GOLONG_HOME/prices.json)
    no_cache: bool = False  # neither read nor write the cache
    refresh: bool = False  # ignore cached answers, call again, store the new answers (newest wins)
    dry_run: bool = False  # no calls: print calls / tokens / cost estimate; uncached items come back error="dry_run"
    max_reasks: int = 2  # extra turns asking the model to fix JSON that fails the schema
    schema_mode: str = "auto"  # json_schema (OpenAI, vLLM, SGLang) | json_object (llama-cpp-python) | auto
    backoff_base_s: float = 1.0  # exponential backoff with full jitter: base * 2^attempt, capped at backoff_max_s
    backoff_max_s: float = 60.0
    progress: bool | None = None  # tqdm bar; None = only on a terminal
    quiet: bool = False  # no summary lines on stderr


@dataclass
class LLMRequest:
    key: str  # the caller's id for the item (e.g. a sample id); results come back in request order
    messages: list[dict[str, Any]]
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int = 0  # vary for k samples of one prompt (pass@k): each seed is its own cache entry
    json_schema: dict[str, Any] | Any | None = None  # a JSON Schema dict, or a pydantic model class
    task_type: str | None = None  # ledger grouping only; not part of the cache key


@dataclass
class LLMResult:
    key: str
    ok: bool
    text: str | None
    parsed: Any | None
    error: str | None  # None when ok; else a reason key: length, schema_invalid, rate_limited, server_error, ...
    usage: dict[str, Any] = field(default_factory=dict)  # prompt_tokens, completion_tokens, calls, cost
    cached: bool = False  # True when every call behind this result was served from the cache
    detail: str = ""  # specifics of a failure (raw model text for schema / length failures)
