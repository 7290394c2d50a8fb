"""Partition jobs that commit once and are never done twice.

A job turns some input files (and key material such as a source spec) into named output files and a
small JSON summary. Its key is a hash of the stage's salt (code version + the params that shape its
output), the bytes of its inputs and its extra key material. The outputs are built in the partition
cache under `<cache>/<stage>/<key>.building-*` and committed by renaming that directory to
`<cache>/<stage>/<key>` (the marker is the directory itself, with `summary.json` written last), then
linked to where the stage wants them.

So a stage killed half-way reruns only the jobs without a committed entry, a night whose inputs
changed in a few partitions recomputes only those, and the result is byte-identical to a run that
was never interrupted: a reused entry holds the very bytes a fresh run would write.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

from tasks.common.io import atomic_write_json, dumps_json

DEFAULT_CACHE = ".cache/partitions"
CACHE_ENV = "CODER_PIPELINE_PARTITION_CACHE"
SUMMARY = "summary.json"
# what shapes a stage's output: code, queries, configs, data assets (not docs, not lists such as the
# crawl's opt-out file, which decide what runs, not what a job writes)
_CODE_SUFFIXES = (".py", ".yaml", ".yml", ".json", ".scm", ".gz", ".jsonl", ".csv", ".tsv")


def cache_root(configured: str | None = None) -> Path:
    """Where committed partitions live: env wins, then runtime.partition_cache, then .cache/partitions."""
    return Path(os.environ.get(CACHE_ENV) or configured or DEFAULT_CACHE)


@dataclass(frozen=True)
class Job:
    """One unit of a stage.

    `inputs` are files whose bytes key the job; `reads` are files it also reads whose identity `extra`
    already carries (e.g. committed entries of an earlier job, named by their keys). The job body gets
    inputs + reads. `outputs` maps logical names to the final paths the stage reads back (None: the
    output stays in the cache, found with `entry_path`).
    """

    stage: str
    name: str
    salt: str
    inputs: tuple[str, ...] = ()
    outputs: Mapping[str, str | None] = field(default_factory=dict)
    extra: str = ""
    reads: tuple[str, ...] = ()
    cache: str = DEFAULT_CACHE


DIGEST_XATTR = "user.coder_pipeline.sha256"


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, remembered on the file itself.

    The digest is kept in an extended attribute stamped with the file's size and mtime (hard links share
    it, so a committed output and the stage directory's link to it are hashed once), so a night that
    changed a few partitions does not re-read every other one to find their keys. A file whose stamp no
    longer matches is hashed again; a filesystem without user xattrs just hashes every time.
    """
    stamp = _stamp(path)
    memo = memoized_digest(path, stamp)
    if memo is not None:
        return memo
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if _stamp(path) == stamp:  # unchanged while read
        try:
            os.setxattr(path, DIGEST_XATTR, f"{stamp}{digest}".encode())
        except OSError:  # no xattrs here (or not ours to write): nothing remembered
            pass
    return digest


def _stamp(path: str | os.PathLike) -> str:
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}:"


def memoized_digest(path: str | os.PathLike, stamp: str | None = None) -> str | None:
    """The remembered digest of the file as it is now, or None (never reads the file)."""
    try:
        stamp = stamp or _stamp(path)
        memo = os.getxattr(path, DIGEST_XATTR).decode()
    except (OSError, UnicodeDecodeError):
        return None
    return memo[len(stamp):] if memo.startswith(stamp) and len(memo) == len(stamp) + 64 else None


def job_key(job: Job) -> str:
    return _key(job, [file_digest(path) for path in job.inputs])


def known_key(job: Job) -> str | None:
    """The job's key when every input's digest is remembered (no input is read), else None."""
    digests = [memoized_digest(path) for path in job.inputs]
    return None if any(d is None for d in digests) else _key(job, digests)  # type: ignore[arg-type]


def _key(job: Job, digests: list[str]) -> str:
    h = hashlib.sha256()
    for part in (job.stage, job.salt, job.extra, json.dumps(sorted(job.outputs)), str(len(job.inputs))):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for digest in digests:
        h.update(digest.encode() + b"\0")
    return h.hexdigest()[:40]


def is_committed(job: Job, key: str) -> bool:
    return (cache_root(job.cache) / job.stage / key / SUMMARY).is_file()


def link_output(src: Path, dst: Path) -> None:
    """Put the committed file at dst (hard link, or a copy across filesystems), replacing any old one."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        if os.path.samefile(src, dst):  # already linked (a job resolved again after a worker died):
            return                      # renaming a link onto the same file would leave the temporary name
    except FileNotFoundError:
        pass
    tmp = dst.with_name(f".{dst.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    tmp.unlink(missing_ok=True)  # rename(2) does nothing when both names are links of one file


def release_memory() -> None:
    """Give back to the OS the heap a finished job freed.

    A pool worker runs many jobs of several kinds; glibc keeps freed arenas and Arrow's mimalloc pool
    its pages, so without this a worker's RSS ratchets up to the sum of its jobs' high-water marks
    instead of the largest one. Cheap next to a partition job (milliseconds).
    """
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


def run_job(job: Job, fn: Callable[..., dict[str, Any]], *args: Any, key: str | None = None) -> dict[str, Any]:
    """Run `fn(inputs, outputs, *args) -> summary` unless an entry with this job's key is committed.

    `outputs` given to fn maps each logical name to a path inside the building directory. Returns the
    summary with `_job` = {name, key, reused}. `key`: the job's key when the caller already knows it.
    Committed outputs get their digest remembered (file_digest), so the next stage finds its keys
    without reading them.
    """
    key = key or job_key(job)
    stage_dir = cache_root(job.cache) / job.stage
    entry = stage_dir / key
    reused = (entry / SUMMARY).is_file()
    if not reused:
        stage_dir.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{key}.building-", dir=stage_dir))
        try:
            outs = {name: str(building / name) for name in job.outputs}
            summary = fn(job.inputs + job.reads, outs, *args)
            missing = [n for n, p in outs.items() if not Path(p).is_file()]
            if missing:
                raise RuntimeError(f"{job.stage}/{job.name}: job wrote no {', '.join(missing)}")
            for p in outs.values():  # just written: read back from the page cache
                file_digest(p)
            atomic_write_json(building / SUMMARY, summary)
            try:
                os.rename(building, entry)
            except OSError:  # a concurrent run of the same job committed first: same bytes, keep theirs
                if not (entry / SUMMARY).is_file():
                    raise
                shutil.rmtree(building, ignore_errors=True)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        finally:
            release_memory()
    summary = json.loads((entry / SUMMARY).read_text(encoding="utf-8"))
    for name, final in job.outputs.items():
        if final is not None:
            link_output(entry / name, Path(final))
    summary["_job"] = {"name": job.name, "key": key, "reused": reused}
    return summary


def entry_path(stage: str, key: str, name: str, cache: str | None = None) -> Path:
    """A committed output of a job, by the key run_job reported (for jobs whose outputs stay in the cache)."""
    return cache_root(cache) / stage / key / name


@dataclass
class JobRun:
    """What a fan-out of jobs gave back: summaries in job order, each job's {name, key, reused}."""
    summaries: list[dict[str, Any]]
    jobs: list[dict[str, Any]]

    @property
    def keys(self) -> list[str]:
        return [j["key"] for j in self.jobs]

    @property
    def reused(self) -> int:
        return sum(1 for j in self.jobs if j["reused"])

    @property
    def computed(self) -> int:
        return len(self.jobs) - self.reused

    def counts(self) -> dict[str, int]:
        return {"partitions": len(self.jobs), "reused": self.reused, "computed": self.computed}

    @classmethod
    def of(cls, summaries: list[dict[str, Any]]) -> "JobRun":
        """From run_job's results (their `_job` entries move to `jobs`)."""
        return cls(summaries, [s.pop("_job") for s in summaries])


# A runner runs jobs and gives their JobRun: flows._runtime.map_jobs (the flow's task runner) or
# run_locally; stage logic written against it runs the same way in a flow, a test or a benchmark.
Runner = Callable[..., JobRun]


def run_locally(jobs: Sequence[Job], fn: Callable[..., dict[str, Any]], *args: Any, desc: str = "",
                per_job: Sequence[tuple] | None = None) -> JobRun:
    """The jobs one after the other in this process (tests, benchmarks); same contract as map_jobs."""
    return JobRun.of([run_job(job, fn, *((tuple(per_job[i]) if per_job else ()) + args))
                      for i, job in enumerate(jobs)])


def prune(stage: str, keep: Iterable[str], configured: str | None = None, grace_s: float = 0.0) -> int:
    """Remove the stage's entries not in `keep` (and leftover building dirs); returns how many went.

    Called after a stage succeeded: everything it did not use belongs to inputs that no longer exist.
    """
    stage_dir = cache_root(configured) / stage
    if not stage_dir.is_dir():
        return 0
    keep = set(keep)
    now = time.time()
    removed = 0
    for child in stage_dir.iterdir():
        if child.name in keep:
            continue
        if grace_s and now - child.stat().st_mtime < grace_s:
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed += 1
    return removed


# ---------------------------------------------------------------- salts
def _pipeline_outputs(stages: dict[str, Any]) -> set[str]:
    outs: set[str] = set()
    for spec in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for item in spec.get(kind) or []:
                outs.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return outs


def stage_code_paths(stage: str, dvc_yaml: str | os.PathLike = "dvc.yaml") -> list[str]:
    """The stage's deps in dvc.yaml that no stage produces: its code and the fixed assets it reads."""
    stages = (yaml.safe_load(Path(dvc_yaml).read_text(encoding="utf-8")) or {}).get("stages") or {}
    if stage not in stages:
        raise KeyError(f"{dvc_yaml}: no stage {stage!r}")
    produced = _pipeline_outputs(stages)
    return sorted(d for d in (stages[stage].get("deps") or []) if d not in produced)


def code_version(paths: Iterable[str], root: str | os.PathLike = ".") -> str:
    """sha256 over the files under `paths` (sources, grammars' queries, assets), names included."""
    h = hashlib.sha256()
    root = Path(root)
    for rel in sorted(paths):
        base = root / rel
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file()
                                                     and "__pycache__" not in p.parts and p.suffix in _CODE_SUFFIXES)
        for f in files:
            h.update(f.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def stage_salt(stage: str, params: Any, dvc_yaml: str | os.PathLike = "dvc.yaml") -> str:
    """What every job key of a stage shares: its code version and the params that shape its outputs."""
    return hashlib.sha256((code_version(stage_code_paths(stage, dvc_yaml)) + dumps_json(params)).encode()).hexdigest()
