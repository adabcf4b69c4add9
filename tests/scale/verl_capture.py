"""Stands where `python3` stands in the emitted launch.sh (PYTHON=...): runs verl's own main_ppo entry point --
hydra composition of verl's config with the script's overrides, verl's device setup and validate_config --
and, where main_ppo would start training (run_ppo), saves the resolved config to $VERL_CAPTURE instead."""

from __future__ import annotations

import os
import sys


def main() -> None:
    args = sys.argv[1:]
    assert args[:2] == ["-m", "verl.trainer.main_ppo"], args[:2]  # the command the script runs
    import verl.trainer.main_ppo as main_ppo
    from omegaconf import OmegaConf

    def capture(config, task_runner_class) -> None:  # noqa: ANN001 - verl's signature
        OmegaConf.save(config, os.environ["VERL_CAPTURE"], resolve=True)

    main_ppo.run_ppo = capture
    sys.argv = [main_ppo.__file__, *args[2:]]
    main_ppo.main()


if __name__ == "__main__":
    main()
