"""Scoring profiles: `golongrl` keeps the official reward code's quirks (what the paper trained with);
`strict` fixes them. Side by side (README "Rewards, taxonomy and score" has the same table):

| behaviour                         | golongrl (official)                     | strict                            |
|-----------------------------------|-----------------------------------------|-----------------------------------|
| think gate                        | on: 0 without `</think>`, or 2+ tags    | on                                |
| list answer area w/o [Answer]     | whole response, thinking included       | text after the last `</think>`    |
| blank lines inside the answer     | count as an (empty) item                | dropped                           |
| SubEM extra lines                 | not penalised (hits / gold)             | hits / max(gold, distinct lines)  |
| Pairwise omissions                | ignored (denominator C(lines, 2))       | C(max(gold, distinct lines), 2)   |
| Pairwise duplicated gold items    | score > 1 -> 0 (official assert caught) | gold de-duplicated                |
| ROUGE-L text                      | whole response, thinking + marker       | answer area after `</think>`      |
| ROUGE-L sentence > ~960 words     | 0 (rouge 1.0.1 RecursionError, caught)  | scored                            |
| IoU `<answer>` search             | whole response (first `<answer>` wins)  | text after the last `</think>`    |
| IoU, non-empty list ground truth  | last element (official: no rows -> 0)   | last element                      |
| a row the official code raises on | 0.0, one warning per route (router.py)  | same                              |

`think_gate=False` (CLI `--no-think-gate`) serves non-thinking models in either profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from golong_data.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    name: str
    think_gate: bool = True  # 0 when no </think>, or more than one <think> / </think>
    answer_after_think: bool = False  # list metrics, IoU: look only after the last </think>
    drop_blank_lines: bool = False  # list metrics: ignore empty answer lines
    subem_penalize_extra: bool = False
    pairwise_penalize_omissions: bool = False
    rouge_answer_only: bool = False  # ROUGE-L on the answer area instead of the whole response
    rouge_recursion_quirk: bool = True  # reproduce rouge 1.0.1's RecursionError -> 0 on very long sentences
    rouge_deadline_s: float = 10.0  # per-call time bound for ROUGE-L; over it the score is 0
    math_timeout_s: int = 5  # math-verify parsing / verification timeouts (the official value)


PROFILES: dict[str, Profile] = {
    "golongrl": Profile("golongrl"),
    "strict": Profile(
        "strict",
        answer_after_think=True,
        drop_blank_lines=True,
        subem_penalize_extra=True,
        pairwise_penalize_omissions=True,
        rouge_answer_only=True,
        rouge_recursion_quirk=False,
    ),
}


def get_profile(profile: str | Profile = "golongrl", think_gate: bool | None = None) -> Profile:
    """A profile by name (or as given), with the think gate optionally switched."""
    if isinstance(profile, Profile):
        p = profile
    else:
        if profile not in PROFILES:
            raise ConfigError(f"unknown scoring profile {profile!r}", f"expected one of: {', '.join(PROFILES)}")
        p = PROFILES[profile]
    if think_gate is not None and think_gate != p.think_gate:
        p = replace(p, think_gate=think_gate)
    return p
