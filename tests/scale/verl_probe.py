"""The TaskRunner the run_ppo test hands to verl's own run_ppo: where verl's trainer would train, it reports what
the emitted runtime_env set up in this Ray worker and computes the worked case through verl's compute_advantage.
A module of its own so that the Ray worker imports it by name (tests/scale is put on its path)."""

from __future__ import annotations

import json
import os

import ray


@ray.remote(num_cpus=1)
class ProbeTaskRunner:
    def run(self, config) -> None:  # noqa: ANN001 - verl's signature
        from verl.trainer.ppo import core_algos, ray_trainer
        from worked_case import worked_case_proto

        from golong_data.train.verl_plugin import golong_tmn_advantage

        out = ray_trainer.compute_advantage(worked_case_proto(), adv_estimator=config.algorithm.adv_estimator,
                                            config=config.algorithm)
        report = {
            "pid": os.getpid(),
            "registered": core_algos.get_adv_estimator_fn("golong_tmn") is golong_tmn_advantage,
            "wrapped": hasattr(ray_trainer.compute_advantage, "__wrapped__"),
            "env": {k: os.environ.get(k) for k in ("GOLONG_TMN_ALGO", "GOLONG_TMN_ALPHA", "GOLONG_TMN_GAMMA")},
            "advantages": out.batch["advantages"][:, 0].tolist(),
        }
        with open(os.environ["GOLONG_PROBE_OUT"], "w") as f:
            json.dump(report, f)
