"""The `dedup` section of params.yaml, validated once at stage start.

Every bad value raises ParamError naming its dotted key (`dedup.threshold: ...`), so a typo fails the
stage before any shard is read. The LSH shape (bands x rows) is derived here from the threshold,
because it decides recall: see `lsh_shape`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from expectations.baseline import POLICY_KEYS, GatePolicy, policy_from_params
from tasks.common.params import ParamError, checked_section

SECTION = "dedup"
RANK_KEYS = ("stars", "size", "n_shingles", "repo")
VERIFY_MODES = ("exact", "estimate")
_KNOWN = {"threshold", "num_perm", "shingle_size", "seed", "bands", "rows", "recall_target", "verify",
          "rank", "max_bucket", "exact_max_bytes", "granularity", "exact", "gate"}


@dataclass(frozen=True)
class Config:
    threshold: float = 0.85
    num_perm: int = 256
    shingle_size: int = 5
    seed: int = 42
    bands: int | None = None          # with rows: explicit LSH shape, else derived by lsh_shape()
    rows: int | None = None
    recall_target: float = 0.999      # P(candidate | Jaccard == threshold) the derived shape must reach
    verify: str = "exact"
    rank: tuple[str, ...] = ("stars", "size", "repo")
    max_bucket: int = 100             # an LSH bucket with more repos (forks) gives a star + chain, not all pairs
    exact_max_bytes: int = 64 << 20   # verify=exact: repos bigger than this are judged by their estimate
    granularity: str = "repo"         # near-dedup unit: repo (DeepSeek-Coder) | file (OpenCoder)
    exact_enabled: bool = True        # exact file dedup across the corpus before near-dedup
    exact_min_chars: int = 1          # normalised files shorter than this are never dropped as exact copies
    gate_dropped_share: tuple[float, float] = (0.0, 0.5)
    gate_policy: GatePolicy = GatePolicy()  # gate mode (enforce | warn) and drift from the accepted run

    @property
    def lsh(self) -> tuple[int, int]:
        """(bands, rows) actually used by the index."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return lsh_shape(self.threshold, self.num_perm, self.recall_target)


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Chance that a pair with this Jaccard shares at least one LSH band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


def _false_positive_area(threshold: float, bands: int, rows: int, steps: int = 200) -> float:
    """Integral of the candidate probability below the threshold (datasketch's FP measure), midpoint rule."""
    width = threshold / steps
    return sum(candidate_probability((i + 0.5) * width, bands, rows) for i in range(steps)) * width


def lsh_shape(threshold: float, num_perm: int, recall_target: float = 0.999) -> tuple[int, int]:
    """(bands, rows) for a recall-first index.

    datasketch's `_optimal_param` minimises an FP+FN mix; even weighted 0.05/0.95 it picks 19 x 13 at
    0.85 / 256 perms, which finds only 91% of pairs sitting at the threshold (13 x 19, its default,
    finds 45%, and 70% at Jaccard 0.88). Candidates are verified afterwards, so a false positive costs
    one comparison while a false negative is a duplicate kept for good. Hence: among shapes that use
    the permutations fully (bands = num_perm // rows), keep those whose candidate probability at the
    threshold reaches `recall_target`, and of those take the one with the smallest false-positive area.
    """
    best: tuple[float, int, int] | None = None
    fallback: tuple[float, int, int] | None = None
    for rows in range(1, num_perm // 2 + 1):
        bands = num_perm // rows
        if bands < 2:
            continue
        p = candidate_probability(threshold, bands, rows)
        if fallback is None or p > fallback[0]:
            fallback = (p, bands, rows)
        if p >= recall_target:
            area = _false_positive_area(threshold, bands, rows)
            if best is None or area < best[0]:
                best = (area, bands, rows)
    if best is not None:
        return best[1], best[2]
    assert fallback is not None
    return fallback[1], fallback[2]  # target unreachable: the most sensitive shape


def _number(section: dict[str, Any], key: str, default: Any, *, integer: bool = False,
            lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Any:
    value = section.get(key, default)
    name = f"{SECTION}.{key}"
    ok_type = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise ParamError(f"{name}: expected {'int' if integer else 'number'}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParamError(f"{name}: must be finite, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ParamError(f"{name}: must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ParamError(f"{name}: must be <= {hi}, got {value!r}")
    return value


def _rank(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return Config().rank
    if not isinstance(raw, (list, tuple)) or not raw or not all(isinstance(k, str) for k in raw):
        raise ParamError(f"{SECTION}.rank: expected a non-empty list of keys, got {raw!r}")
    for key in raw:
        if key not in RANK_KEYS:
            raise ParamError(f"{SECTION}.rank: unknown key {key!r}; expected some of {', '.join(RANK_KEYS)}")
    if len(set(raw)) != len(raw):
        raise ParamError(f"{SECTION}.rank: repeated key in {list(raw)!r}")
    keys = tuple(raw)
    return keys if "repo" in keys else keys + ("repo",)  # the repo id makes the order total


def _gate(raw: Any) -> tuple[float, float]:
    if raw is None:
        return Config().gate_dropped_share
    if not isinstance(raw, dict):
        raise ParamError(f"{SECTION}.gate: expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - {"dropped_share", *POLICY_KEYS})
    if unknown:
        raise ParamError(f"{SECTION}.gate.{unknown[0]}: unknown key")
    bounds = raw.get("dropped_share", list(Config().gate_dropped_share))
    name = f"{SECTION}.gate.dropped_share"
    if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)):
        raise ParamError(f"{name}: expected [lo, hi], got {bounds!r}")
    lo, hi = float(bounds[0]), float(bounds[1])
    if not 0.0 <= lo <= hi <= 1.0:
        raise ParamError(f"{name}: need 0 <= lo <= hi <= 1, got {list(bounds)!r}")
    return lo, hi


def _granularity(value: Any) -> str:
    if value not in ("repo", "file"):
        raise ParamError(f"{SECTION}.granularity: unknown value {value!r}; expected repo (the paper) or file (OpenCoder)")
    return value


def _exact(raw: Any) -> tuple[bool, int]:
    if raw is None:
        return Config.exact_enabled, Config.exact_min_chars
    if not isinstance(raw, dict):
        raise ParamError(f"{SECTION}.exact: expected a mapping {{enabled, min_chars}}, got {raw!r}")
    unknown = sorted(set(raw) - {"enabled", "min_chars"})
    if unknown:
        raise ParamError(f"{SECTION}.exact.{unknown[0]}: unknown key; expected enabled, min_chars")
    enabled = raw.get("enabled", Config.exact_enabled)
    if not isinstance(enabled, bool):
        raise ParamError(f"{SECTION}.exact.enabled: expected true or false, got {enabled!r}")
    min_chars = raw.get("min_chars", Config.exact_min_chars)
    if isinstance(min_chars, bool) or not isinstance(min_chars, int) or min_chars < 0:
        raise ParamError(f"{SECTION}.exact.min_chars: expected an int >= 0, got {min_chars!r}")
    return enabled, min_chars


def config_from_params(section: dict[str, Any]) -> Config:
    """Validate the `dedup` section of params.yaml; missing keys take the defaults of Config."""
    section = checked_section(section, SECTION, _KNOWN)
    d = Config()
    threshold = float(_number(section, "threshold", d.threshold, lo=0.0, hi=1.0, lo_open=True))
    num_perm = _number(section, "num_perm", d.num_perm, integer=True, lo=2, hi=8192)
    shingle_size = _number(section, "shingle_size", d.shingle_size, integer=True, lo=1, hi=64)
    seed = _number(section, "seed", d.seed, integer=True, lo=0, hi=2**32 - 1)
    recall_target = float(_number(section, "recall_target", d.recall_target, lo=0.0, hi=1.0, lo_open=True))
    bands, rows = section.get("bands"), section.get("rows")
    if (bands is None) != (rows is None):
        missing = "rows" if rows is None else "bands"
        raise ParamError(f"{SECTION}.{missing}: bands and rows must be given together (or both left out)")
    if bands is not None:
        bands = _number(section, "bands", None, integer=True, lo=2)
        rows = _number(section, "rows", None, integer=True, lo=1)
        if bands * rows > num_perm:
            raise ParamError(f"{SECTION}.bands: bands * rows must be <= num_perm ({num_perm}), "
                             f"got {bands} * {rows}")
    verify = section.get("verify", d.verify)
    if verify not in VERIFY_MODES:
        raise ParamError(f"{SECTION}.verify: unknown value {verify!r}; expected one of {', '.join(VERIFY_MODES)}")
    return Config(threshold=threshold, num_perm=num_perm, shingle_size=shingle_size, seed=seed,
                  bands=bands, rows=rows, recall_target=recall_target, verify=verify,
                  rank=_rank(section.get("rank")),
                  max_bucket=_number(section, "max_bucket", d.max_bucket, integer=True, lo=2),
                  exact_max_bytes=_number(section, "exact_max_bytes", d.exact_max_bytes, integer=True, lo=1),
                  granularity=_granularity(section.get("granularity", d.granularity)),
                  exact_enabled=_exact(section.get("exact"))[0], exact_min_chars=_exact(section.get("exact"))[1],
                  gate_dropped_share=_gate(section.get("gate")),
                  gate_policy=policy_from_params(SECTION, section.get("gate")))
