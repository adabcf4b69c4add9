"""Where per-user state lives: one folder, $GOLONG_HOME (default ~/.cache/golong-data).

    $GOLONG_HOME/
      llm_cache.sqlite   every LLM answer (the paid calls a rerun replays)
      prices.json        optional price table over the built-in one
      local-llm.*        the embedded server's pid file, lock, log and users
      models/            the SmolLM2 GGUF (and de-quantized copies)
      wheels/            the llama-cpp-python wheel built once per machine
      tokenizers/        qwen.tiktoken
      corpus/            the demo corpus `make demo` fetches

One variable, so pointing it elsewhere is a whole fresh start (the LLM cache included), never half of one.
GOLONG_CACHE, the older name of the build-cache half, is still read when GOLONG_HOME is unset.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    env = os.environ.get("GOLONG_HOME") or os.environ.get("GOLONG_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "golong-data"
