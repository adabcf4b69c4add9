"""`golong-data train --backend verl --emit DIR`: everything a Ray cluster with verl needs for the same training.

DIR/
  data/train.parquet     verl / GoLongRL row schema (the export stage's; samples are converted with its writer)
  golong_reward.py       reward.custom_reward_function: calls golong_data.rewards.compute_score
  launch.sh              Ray head/worker commands and verl's main_ppo with the paper's settings
  README.md              what each file is for and which verl version they were checked against

The `golong_tmn` estimator (golong_data.train.verl_plugin) reaches verl's processes as a Ray
worker_process_setup_hook, so stock `python -m verl.trainer.main_ppo` runs it: no patched main script.
tests/scale/test_verl.py checks these files against the real verl (VERL_CHECKED).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from golong_data.errors import GolongError
from golong_data.export.rows import parquet_schema, sample_to_row
from golong_data.records import Sample, read_records
from golong_data.train.config import TrainConfig

VERL_CHECKED = "verl 0.9.1 (its legacy trainer, trainer.use_v1=False)"
SETUP_HOOK = "golong_data.train.verl_plugin.install"

REWARD_PY = '''\
"""verl custom reward function (reward.custom_reward_function.path): the golong-data reward router.

Same function as `golong-data score` and the TRL backend, so training and scoring agree.
"""

from golong_data.rewards import compute_score as _compute_score


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    return float(_compute_score(data_source, solution_str, ground_truth, extra_info))
'''


# Long on purpose (issue 17): the body is launch.sh itself, one f-string template that reads top to bottom as
# the script it writes; cutting it into pieces would only scatter the script.
def launch_sh(cfg: TrainConfig, n_rows: int) -> str:
    algo = cfg.algo
    batch = max(1, min(128, n_rows))  # the paper: 128 prompts per step
    return textwrap.dedent(f'''\
        #!/usr/bin/env bash
        # Written by `golong-data train --backend verl`; checked against {VERL_CHECKED}.
        # Start Ray first:   head:    ray start --head --port=6379
        #                    workers: ray start --address=$HEAD_IP:6379
        # then run this script on the head node. Every node needs: pip install 'golong-data[verl]' (+ vllm or sglang).
        # VERL_FLAVOR=upstream (default): stock verl main_ppo + our golong_tmn estimator, installed in every Ray
        #   worker by a worker_process_setup_hook; it needs verl's legacy trainer (trainer.use_v1=False), whose
        #   batches keep each sample's extra_info up to the advantage step.
        # VERL_FLAVOR=golongrl: the authors' fork (github.com/xiaoxuanNLP/GoLongRL, Train/verl), whose trainer passes
        #   extra_info.reward_mode to its built-in tmn_grpo estimator (and runs the DAPO recipe with group filtering).
        #   Not tested here.
        # Values of runtime_env.env_vars are quoted for hydra ('0.8'): Ray takes only strings there.
        set -euo pipefail
        HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
        MODEL=${{MODEL:?set MODEL to a local HF model directory, e.g. Qwen3-4B}}
        NNODES=${{NNODES:-1}}
        GPUS=${{GPUS:-8}}
        MICRO=${{MICRO:-1}}        # sequences per GPU per forward pass (long contexts: 1)
        PYTHON=${{PYTHON:-python3}}
        VERL_FLAVOR=${{VERL_FLAVOR:-upstream}}
        REWARD_MANAGER=${{REWARD_MANAGER:-naive}}  # naive | dapo (dapo adds an overlong-response penalty when enabled)
        ALGO={algo}                # tmn-reweight | tmn | grpo
        ALPHA={cfg.alpha}          # difficulty_smooth_alpha (paper: 0.8)
        GAMMA={cfg.gamma}          # difficulty weight strength (paper: 1.0)

        COMMON=(
          data.train_files="$HERE/data/train.parquet"
          data.val_files="$HERE/data/train.parquet"
          data.prompt_key=prompt
          data.train_batch_size={batch}
          data.max_prompt_length={cfg.max_prompt_tokens}
          data.max_response_length={cfg.max_completion_length}
          data.filter_overlong_prompts=True
          data.truncation=left
          actor_rollout_ref.model.path="$MODEL"
          actor_rollout_ref.actor.optim.lr={cfg.learning_rate}
          actor_rollout_ref.actor.optim.lr_warmup_steps={cfg.warmup_steps}
          actor_rollout_ref.actor.optim.weight_decay={cfg.weight_decay}
          actor_rollout_ref.actor.optim.clip_grad={cfg.max_grad_norm}
          actor_rollout_ref.actor.ppo_mini_batch_size={batch}
          actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=$MICRO
          actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=$MICRO
          actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=$MICRO
          actor_rollout_ref.actor.clip_ratio_low={cfg.epsilon}
          actor_rollout_ref.actor.clip_ratio_high={cfg.epsilon_high}
          actor_rollout_ref.actor.use_kl_loss=False
          actor_rollout_ref.actor.kl_loss_coef=0.0
          actor_rollout_ref.actor.entropy_coeff=0
          actor_rollout_ref.actor.loss_agg_mode=token-mean
          actor_rollout_ref.rollout.n={cfg.num_generations}
          actor_rollout_ref.rollout.temperature={cfg.temperature}
          actor_rollout_ref.rollout.top_p=1.0
          algorithm.use_kl_in_reward=False
          algorithm.kl_ctrl.kl_coef=0.0
          trainer.nnodes=$NNODES
          trainer.n_gpus_per_node=$GPUS
          trainer.total_training_steps={cfg.max_steps}
          trainer.save_freq=5
          trainer.resume_mode=auto
          trainer.logger=[console]
          trainer.project_name=golong-data
          trainer.experiment_name=$ALGO
        )

        if [ "$VERL_FLAVOR" = golongrl ]; then
          # The fork's estimator: tmn_grpo (+ difficulty_reweight for TMN-Reweight); grpo is plain grpo.
          if [ "$ALGO" = grpo ]; then EST=(algorithm.adv_estimator=grpo); else
            RW=False; [ "$ALGO" = tmn-reweight ] && RW=True
            EST=(algorithm.adv_estimator=tmn_grpo +algorithm.difficulty_reweight=$RW
                 +algorithm.difficulty_smooth_alpha=$ALPHA)
          fi
          "$PYTHON" -m recipe.dapo.main_dapo --config-name=dapo_trainer "${{COMMON[@]}}" "${{EST[@]}}" \\
            custom_reward_function.path="$HERE/golong_reward.py" custom_reward_function.name=compute_score \\
            algorithm.filter_groups.enable=True algorithm.filter_groups.metric=score "$@"
        else
          "$PYTHON" -m verl.trainer.main_ppo "${{COMMON[@]}}" algorithm.adv_estimator=golong_tmn trainer.use_v1=False \\
            reward.custom_reward_function.path="$HERE/golong_reward.py" \\
            reward.custom_reward_function.name=compute_score reward.reward_manager.name=$REWARD_MANAGER \\
            +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook={SETUP_HOOK} \\
            +ray_kwargs.ray_init.runtime_env.env_vars.GOLONG_TMN_ALGO="'$ALGO'" \\
            +ray_kwargs.ray_init.runtime_env.env_vars.GOLONG_TMN_ALPHA="'$ALPHA'" \\
            +ray_kwargs.ray_init.runtime_env.env_vars.GOLONG_TMN_GAMMA="'$GAMMA'" "$@"
        fi
        ''')


def _readme(cfg: TrainConfig, n_rows: int) -> str:
    return textwrap.dedent(f"""\
        # verl run written by golong-data

        {n_rows} training rows, algorithm `{cfg.algo}` (alpha {cfg.alpha}, gamma {cfg.gamma}).
        Checked against {VERL_CHECKED} by golong-data's tests/scale (real verl, CPU): launch.sh's overrides
        compose with verl's hydra config and land on the fields verl reads; verl's naive and dapo reward managers
        load `golong_reward.py` and score like `golong-data score`; verl's compute_advantage runs `golong_tmn`;
        RLHFDataset reads `data/train.parquet`. Not yet run on GPUs.

        - `data/train.parquet`: verl row schema (data_source, prompt, ability, reward_model, extra_info).
        - `golong_reward.py`: `reward.custom_reward_function.path`; calls `golong_data.rewards.compute_score`.
        - `launch.sh`: `MODEL=/path/to/model bash launch.sh` on the Ray head (NNODES, GPUS, REWARD_MANAGER=naive|dapo).
          verl gives registered estimators no per-sample task key, so `{SETUP_HOOK}` runs in every Ray worker
          (`ray_kwargs.ray_init.runtime_env.worker_process_setup_hook`): it registers `golong_tmn` and wraps
          `ray_trainer.compute_advantage` to hand over each sample's `extra_info.reward_mode` (mapped to its metric
          group, e.g. T4.1 -> Summary). That needs the legacy trainer (`trainer.use_v1=False`): the v1 trainer reads
          only uid, masks and scores at its advantage step. Settings reach the workers as GOLONG_TMN_ALGO/_ALPHA/_GAMMA.
        - `VERL_FLAVOR=golongrl` targets the authors' fork and its built-in `tmn_grpo` estimator instead (with DAPO
          group filtering, as in the paper); not tested. The upstream path has no DAPO dynamic sampling
          (zero-variance groups stay in the batch with zero advantage).
        """)


def emit_verl(cfg: TrainConfig) -> list[str]:
    """Write the verl files into cfg.emit; returns summary lines."""
    import pyarrow as pa  # lazy: pyarrow
    import pyarrow.parquet as pq

    if cfg.emit is None or cfg.data is None:
        raise GolongError("--backend verl needs --data and --emit DIR")
    src = Path(cfg.data)
    if src.is_dir():
        for name in ("train.parquet", "verified.jsonl", "samples.jsonl"):
            if (src / name).exists():
                src = src / name
                break
    if not src.is_file():
        raise GolongError(f"{cfg.data}: no train.parquet or samples JSONL there", "run `golong-data export` first")
    out = Path(cfg.emit)
    (out / "data").mkdir(parents=True, exist_ok=True)
    if src.suffix == ".parquet":
        shutil.copyfile(src, out / "data" / "train.parquet")
        n_rows = pq.read_metadata(out / "data" / "train.parquet").num_rows
    else:
        rows = [sample_to_row(s, i, None) for i, s in enumerate(read_records(src, Sample))]
        pq.write_table(pa.Table.from_pylist(rows, schema=parquet_schema()), out / "data" / "train.parquet")
        n_rows = len(rows)
    files = {
        "golong_reward.py": REWARD_PY,
        "launch.sh": launch_sh(cfg, n_rows),
        "README.md": _readme(cfg, n_rows),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    (out / "launch.sh").chmod(0o755)
    return [f"train: wrote a verl run for {n_rows} rows to {out} (checked against {VERL_CHECKED})",
            f"  start Ray, then: MODEL=/path/to/model bash {out / 'launch.sh'}"]
