"""Generation for eval and the speed comparison: three ways to turn prompt ids into completion ids.

    ids, stats = generate_ids(model, tok, prompts, max_new_tokens=64, method="bucketed")

padded    what TRL's default path does: the prompts in their given order, left-padded to the longest of each
          batch, one `model.generate` per batch (every row waits for the slowest one and pays for the padding).
bucketed  the prompts sorted by length before batching (little padding), optionally a static KV cache
          (`static=True`, compiled forward on a GPU), outputs returned in the input order.
paged     transformers' continuous batching (`model.generate_batch`, paged KV cache): finished rows free their
          slot at once and new ones start; what TRL runs with `use_transformers_continuous_batching`.

`stats` counts generated tokens (up to and including the first EOS; padding after it is not work done) and
wall seconds, so every path reports the same tokens/s.
"""

from __future__ import annotations

import time
from typing import Any

METHODS = ("padded", "bucketed", "paged")


def _eos_ids(model: Any, tok: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    return ids


def _trim(ids: list[int], eos: set[int]) -> list[int]:
    """Completion ids up to and including the first EOS."""
    for i, t in enumerate(ids):
        if t in eos:
            return ids[: i + 1]
    return ids


def _sync(device: Any) -> None:
    import torch  # lazy: torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def generate_ids(model: Any, tok: Any, prompts: list[list[int]], max_new_tokens: int, method: str = "bucketed",
                 batch_size: int = 16, do_sample: bool = False, temperature: float = 1.0, static: bool = False,
                 seed: int = 0) -> tuple[list[list[int]], dict[str, float]]:
    """Completion ids (EOS-trimmed) for each prompt, in input order, and {tokens, seconds, tokens_per_second}."""
    import torch  # lazy: torch
    from transformers import GenerationConfig  # lazy: transformers

    if method not in METHODS:
        raise ValueError(f"unknown generation method {method!r}; expected one of: {', '.join(METHODS)}")
    device = next(model.parameters()).device
    eos = _eos_ids(model, tok)
    gc = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature if do_sample
                          else None, top_p=1.0 if do_sample else None, top_k=0 if do_sample else None,
                          eos_token_id=sorted(eos), pad_token_id=tok.pad_token_id)
    if static and method != "paged":
        gc.cache_implementation = "static"
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    out: list[list[int]] = [[] for _ in prompts]
    _sync(device)
    t0 = time.perf_counter()
    # fp32 master weights on a GPU generate under bf16 autocast, as TRL's bf16 training does; not the paged
    # path, whose KV cache is allocated in the model's dtype (TRL casts the model to bf16 for it instead)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and method != "paged"
                              and next(model.parameters()).dtype == torch.float32)
    with torch.no_grad(), autocast:
        if method == "paged":
            results = model.generate_batch([list(p) for p in prompts], generation_config=gc, progress_bar=False)
            # generate_batch returns requests in input order (request ids req_0, req_1, ...)
            for i, r in enumerate(results.values()):
                out[i] = list(r.generated_tokens)
        else:
            order = list(range(len(prompts)))
            if method == "bucketed":
                order.sort(key=lambda i: len(prompts[i]))
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                n = max(len(prompts[i]) for i in idx)
                ids = torch.full((len(idx), n), tok.pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(idx), n), dtype=torch.long)
                for row, i in enumerate(idx):  # left padding: every row's last prompt token is at column n-1
                    ids[row, n - len(prompts[i]):] = torch.tensor(prompts[i])
                    mask[row, n - len(prompts[i]):] = 1
                gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=gc)
                for row, i in enumerate(idx):
                    out[i] = gen[row, n:].tolist()
    _sync(device)
    seconds = time.perf_counter() - t0
    model.train(was_training)
    out = [_trim(o, eos) for o in out]
    tokens = sum(len(o) for o in out)
    return out, {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds if seconds else 0.0}
