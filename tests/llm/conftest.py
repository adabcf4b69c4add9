"""Fixtures for the LLM layer's tests: the fault-injecting fake server (the real local server's fixtures,
`local_llm` and `local_llm_config`, live in tests/llm_fixtures.py so every test directory can use them)."""

from __future__ import annotations




