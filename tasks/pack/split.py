"""Train / validation split that never leaves validation empty.

The rule is DeepSeek-Coder's unit of a repository: a repository goes to validation when its stable
draw u = stable_hash64(seed, "split", repo) / 2**64 is below `val_ratio`, so no repository is in both.
With few repositories that rule can pick none (the GitHub calibration corpus did: validation was empty
and every validation metric became meaningless), so the plan, made from one pass over the repository
ids of data/clean, corrects it:
- no repository drawn for validation: the one with the smallest draw goes there;
- every repository drawn: the one with the largest draw goes to training;
- a single repository: the split is made within it, by sample (`mode: sample`), recorded in metrics.
With val_ratio 0 there is no validation, as asked.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.hashing import stable_hash64

_SCALE = float(2**64)


def repo_draw(seed: int, repo: str) -> float:
    return stable_hash64(seed, "split", repo) / _SCALE


def sample_draw(seed: int, repo: str, sample: Any) -> float:
    return stable_hash64(seed, "split-sample", repo, str(sample)) / _SCALE


@dataclass(frozen=True)
class SplitPlan:
    seed: int
    val_ratio: float
    mode: str = "repo"                 # repo | sample (a corpus of one repository)
    force_val: str | None = None       # repo sent to validation although its draw is above val_ratio
    force_train: str | None = None     # repo kept in training although its draw is below val_ratio
    only_repo: str | None = None       # mode sample: the repository split by sample
    force_val_sample: str | None = None  # mode sample: the sample sent to validation when none was drawn

    def split_of(self, repo: str, sample: Any = None) -> int:
        """1 (validation) or 0 (train)."""
        if self.val_ratio <= 0:
            return 0
        if self.mode == "sample" and repo == self.only_repo:
            if self.force_val_sample is not None and str(sample) == self.force_val_sample:
                return 1
            return int(sample_draw(self.seed, repo, sample) < self.val_ratio)
        if repo == self.force_val:
            return 1
        if repo == self.force_train:
            return 0
        return int(repo_draw(self.seed, repo) < self.val_ratio)

    def describe(self) -> dict[str, Any]:
        return {"unit": "sample" if self.mode == "sample" else "repository", "val_ratio": self.val_ratio,
                "forced_to_val": self.force_val or self.force_val_sample, "forced_to_train": self.force_train}


def _repos(paths: Iterable[str | os.PathLike]) -> Iterable[str]:
    for path in paths:
        table = pq.read_table(path, columns=["repo"])
        for repo in pc.unique(table.column("repo")).to_pylist():
            if repo is not None:
                yield repo


def plan_split(clean_paths: list[str], seed: int, val_ratio: float) -> SplitPlan:
    """The split plan for these data/clean partitions (one pass over their repo ids; O(1) memory)."""
    plan = SplitPlan(seed, val_ratio)
    if val_ratio <= 0:
        return plan
    n = n_val = 0
    first = lowest = highest_val = None
    for repo in _repos(clean_paths):
        u = repo_draw(seed, repo)
        n += 1
        first = first or repo
        if lowest is None or (u, repo) < lowest:
            lowest = (u, repo)
        if u < val_ratio:
            n_val += 1
            if highest_val is None or (u, repo) > highest_val:
                highest_val = (u, repo)
    if n == 0:
        return plan
    if n == 1:
        return _within(clean_paths, first, seed, val_ratio)
    if n_val == 0:
        return SplitPlan(seed, val_ratio, force_val=lowest[1])
    if n_val == n:
        return SplitPlan(seed, val_ratio, force_train=highest_val[1])
    return plan


def _within(clean_paths: list[str], repo: str, seed: int, val_ratio: float) -> SplitPlan:
    """A one-repository corpus: split by sample, at least one sample in validation when there are two."""
    n = n_val = 0
    lowest = None
    for path in clean_paths:
        table = pq.read_table(path, columns=["repo", "sample"])
        for sample in table.column("sample").to_pylist():
            u = sample_draw(seed, repo, sample)
            n += 1
            n_val += u < val_ratio
            if lowest is None or (u, str(sample)) < lowest:
                lowest = (u, str(sample))
    forced = lowest[1] if n >= 2 and n_val == 0 else None
    return SplitPlan(seed, val_ratio, mode="sample", only_repo=repo, force_val_sample=forced)
