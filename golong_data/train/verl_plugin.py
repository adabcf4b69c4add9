"""TMN / TMN-Reweight as a registered verl advantage estimator, and the piece that supplies its task key.

Checked against verl 0.9.1 by tests/scale/test_verl.py (the real verl: register_adv_est, get_adv_estimator_fn,
ray_trainer.compute_advantage on a DataProto, and verl's run_ppo starting Ray with the emitted runtime_env).

Why more than `register_adv_est`: verl's `ray_trainer.compute_advantage` calls a registered estimator with
token_level_rewards, response_mask, config and index (the prompt uid) only -- no per-sample task key, which
TMN needs. (The authors' fork, github.com/xiaoxuanNLP/GoLongRL, patches compute_advantage to pass
`reward_mode`; with that fork use its own `tmn_grpo` estimator instead, see the emitted launch script.)
`install()` therefore wraps `ray_trainer.compute_advantage`: for our estimator it reads each sample's task key
from the batch (top-level `reward_mode`, else `extra_info["reward_mode"]` with `data_source`), puts it where
the estimator reads it, and calls the original. The emitted launch script makes `install` Ray's
worker_process_setup_hook, so it runs in every Ray worker of the job, the TaskRunner that computes advantages
included. Only verl's legacy trainer (trainer.use_v1=False) calls ray_trainer.compute_advantage with the
samples' extra_info; the v1 trainer reads only uid, masks and scores there, and our estimator then stops with
an error saying so.

Settings come from environment variables, which verl forwards to its Ray actors through
`+ray_kwargs.ray_init.runtime_env.env_vars.*`: GOLONG_TMN_ALGO (tmn-reweight | tmn | grpo),
GOLONG_TMN_ALPHA (0.8), GOLONG_TMN_GAMMA (1.0).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from golong_data.train.advantages import compute_advantages
from golong_data.train.data import task_key

ESTIMATOR = "golong_tmn"
_CURRENT: dict[str, Any] = {"tasks": None, "metrics": {}}


def batch_task_keys(non_tensor_batch: dict[str, Any]) -> list[str]:
    """One TMN task key per sample of a verl batch (the official trainer's rule, our metric groups)."""
    n = len(next(iter(non_tensor_batch.values())))
    if "reward_mode" in non_tensor_batch:
        modes = [str(m) for m in non_tensor_batch["reward_mode"]]
    elif "extra_info" in non_tensor_batch:
        modes = [str((ei or {}).get("reward_mode", "")) for ei in non_tensor_batch["extra_info"]]
    else:
        raise ValueError("golong_tmn needs each sample's reward_mode: top-level or in extra_info (export schema)")
    sources = non_tensor_batch.get("data_source", [""] * n)
    return [task_key(str(s), m) for s, m in zip(sources, modes, strict=True)]


def golong_tmn_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Any = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl estimator: (bs, T) rewards -> (bs, T) advantages = TMN scalar broadcast over the response mask."""
    tasks = _CURRENT["tasks"]
    scores = token_level_rewards.sum(dim=-1)  # (bs,) outcome reward of each response
    if tasks is None or len(tasks) != scores.shape[0]:
        raise RuntimeError(f"{ESTIMATOR}: no task keys for this batch; run verl with trainer.use_v1=False and "
                           "+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook="
                           "golong_data.train.verl_plugin.install (the emitted launch.sh does)")
    adv, metrics = compute_advantages(
        scores.detach().float().cpu(),
        [str(u) for u in index],
        tasks,
        algo=os.environ.get("GOLONG_TMN_ALGO", "tmn-reweight"),
        alpha=float(os.environ.get("GOLONG_TMN_ALPHA", "0.8")),
        gamma=float(os.environ.get("GOLONG_TMN_GAMMA", "1.0")),
    )
    _CURRENT["metrics"] = metrics
    adv = adv.to(token_level_rewards.device, token_level_rewards.dtype).unsqueeze(-1) * response_mask  # (bs, T)
    return adv, adv


def wrap_compute_advantage(original: Any) -> Any:
    """compute_advantage(data, adv_estimator, ...) that hands our estimator the batch's task keys."""

    def compute_advantage(data: Any, adv_estimator: Any, *args: Any, **kwargs: Any) -> Any:
        if str(getattr(adv_estimator, "value", adv_estimator)) != ESTIMATOR:
            return original(data, adv_estimator, *args, **kwargs)
        _CURRENT["tasks"] = batch_task_keys(data.non_tensor_batch)
        try:
            out = original(data, adv_estimator, *args, **kwargs)
        finally:
            _CURRENT["tasks"] = None
        out.meta_info["golong_tmn_metrics"] = dict(_CURRENT["metrics"])  # sigma_k, pass rate, weight range
        return out

    compute_advantage.__wrapped__ = original  # type: ignore[attr-defined]
    return compute_advantage


def install() -> None:
    """Register the estimator with verl and hook compute_advantage; idempotent."""
    from verl.trainer.ppo import core_algos, ray_trainer  # lazy: verl (and ray), an optional extra

    if ESTIMATOR not in core_algos.ADV_ESTIMATOR_REGISTRY:
        core_algos.register_adv_est(ESTIMATOR)(golong_tmn_advantage)
    if not hasattr(ray_trainer.compute_advantage, "__wrapped__"):
        ray_trainer.compute_advantage = wrap_compute_advantage(ray_trainer.compute_advantage)
