"""The TMN worked case as a verl DataProto (shared by the test and the Ray worker that probes verl's run_ppo).

12 responses: prompts u1 and u2 (EM) and u3 (a longbench_pro summary, task key Summary), 4 rollouts each, of
lengths 3, 5, 2, 4 tokens; verl puts the outcome reward on the last response token. EXPECTED are the TMN-Reweight
advantages worked out by hand in tests/train/test_advantages.py (alpha 0.8, gamma 1.0)."""

from __future__ import annotations

import numpy as np
import torch

SCORES = [1, 0, 0, 0] + [1, 1, 0, 0] + [0.1, 0.2, 0.3, 0.8]
LENGTHS = [3, 5, 2, 4] * 3
EXPECTED = ([1.783162] + [-0.360514] * 3 + [0.925818] * 2 + [-0.925818] * 2
            + [-0.626220, -0.375732, -0.125244, 1.858431])


def worked_case_proto(width: int = 6):  # -> verl.DataProto
    from verl import DataProto

    mask = torch.zeros(12, width)
    tlr = torch.zeros(12, width)
    for i, (s, n) in enumerate(zip(SCORES, LENGTHS, strict=True)):
        mask[i, :n] = 1
        tlr[i, n - 1] = s
    extra = [{"reward_mode": "EM", "index": i} for i in range(8)]
    extra += [{"reward_mode": "T4.1 Global-Coverage Constrained Summary", "index": i} for i in range(8, 12)]
    return DataProto.from_dict(
        tensors={"token_level_rewards": tlr, "response_mask": mask},
        non_tensors={"uid": np.array(["u1"] * 4 + ["u2"] * 4 + ["u3"] * 4, dtype=object),
                     "extra_info": np.array(extra, dtype=object),
                     "data_source": np.array(["EM"] * 8 + ["longbench_pro"] * 4, dtype=object)})
