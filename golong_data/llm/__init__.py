"""One LLM layer for every stage: concurrent, cached, crash-safe, cost-capped; a real local model by default.

    from golong_data.llm import LLMConfig, LLMRequest, run_batch
    results = run_batch([LLMRequest(key="q1", messages=[{"role": "user", "content": "Hi"}])], LLMConfig())

Importing this package is cheap: openai, tenacity and tqdm load on the first call.
"""

from golong_data.llm.client import BudgetExceeded, resolve_endpoint, run_batch
from golong_data.llm.contract import LOCAL_MODEL, LLMConfig, LLMRequest, LLMResult

__all__ = ["LLMConfig", "LLMRequest", "LLMResult", "run_batch", "BudgetExceeded", "resolve_endpoint", "LOCAL_MODEL"]
