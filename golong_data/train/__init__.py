"""Training on golong-data samples: GRPO, TMN and TMN-Reweight.

advantages.py   the advantage math (pure torch; the one place it lives)
config.py       TrainConfig: every setting once, with the help text the CLI shows
data.py         train.parquet / samples.jsonl -> the rows both backends read
trl_backend.py  one GPU: TRL's GRPOTrainer with the advantage step replaced
verl_plugin.py  the same estimator registered with verl, plus the task-key hook
verl_emit.py    `--backend verl --emit DIR`: data, reward file, plugin, launch script
toy.py          short program-constructed samples for smoke runs and the GPU check

Nothing here is imported by `golong-data --help` except config.py (plain dataclasses).
"""
