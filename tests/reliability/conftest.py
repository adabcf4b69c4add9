"""Reliability tests reuse the LLM layer's fault-injecting fake server (tests/llm/fake_openai_server.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))



