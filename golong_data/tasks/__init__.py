"""The nine task types: one module each (program constructors + answer format), and the registry.

    builder = get_builder("precise_retrieval")
    plan = builder.constructors[0].fn(focus, rng)      # a Plan, or a reason string for the ledger
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from golong_data.errors import ConfigError
from golong_data.tasks import (
    comprehension,
    exhaustive_retrieval,
    graded_ranking,
    numerical_reasoning,
    precise_retrieval,
    sequence_ordering,
    structured_extraction,
    structured_matching,
    summarization,
)
from golong_data.tasks.common import ConstructorSpec, Focus, Plan

__all__ = ["TASK_BUILDERS", "TaskBuilder", "get_builder", "Focus", "Plan", "ConstructorSpec"]

# Bump when a constructor's output for the same input changes (it goes into every Sample.generator).
VERSION = "2"


@dataclass(frozen=True)
class TaskBuilder:
    name: str
    constructors: list[ConstructorSpec]
    format_answer: Callable[[list[str], str], str]  # (gold_items, golden_label) -> answer in the task's format

    def for_kind(self, kind: str) -> list[ConstructorSpec]:
        return [c for c in self.constructors if kind in c.kinds]


def _builder(m: ModuleType) -> TaskBuilder:
    return TaskBuilder(m.NAME, list(m.CONSTRUCTORS), m.format_answer)


# Taxonomy order (largest share first), so runs and summaries list types the way the paper does.
TASK_BUILDERS: dict[str, TaskBuilder] = {
    m.NAME: _builder(m)
    for m in (
        precise_retrieval,
        comprehension,
        exhaustive_retrieval,
        numerical_reasoning,
        structured_extraction,
        structured_matching,
        graded_ranking,
        sequence_ordering,
        summarization,
    )
}


def get_builder(name: str) -> TaskBuilder:
    if name not in TASK_BUILDERS:
        raise ConfigError(f"unknown task type {name!r}", f"expected one of: {', '.join(TASK_BUILDERS)}")
    return TASK_BUILDERS[name]
