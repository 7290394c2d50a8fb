"""The crawl stage's params section, validated once at start so a typo fails before any download.

Sources come either inline (`crawl.sources`) or from a manifest YAML file (`crawl.manifest`, by
default the curated list shipped beside this module). The manifest is read here, so worker
processes receive plain, already-validated spec dicts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tasks.common.params import ParamError, choice, get, number
from tasks.crawl.extract import Limits
from tasks.crawl.fetch import FetchPolicy
from tasks.crawl.github import GithubConfig, github_config_from_params
from tasks.crawl.sources import validate_spec

DEFAULT_MANIFEST = "tasks/crawl/default_manifest.yaml"
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Config:
    sources: tuple[dict[str, Any], ...] = ()  # validated specs (inline or from the manifest)
    manifest: str | None = DEFAULT_MANIFEST
    max_file_bytes: int = 1 << 20
    max_archive_members: int = 20_000
    max_total_bytes: int = 256 << 20
    max_ratio: float = 100.0
    timeout_s: float = 30.0
    retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_fetch_s: float = 300.0
    on_truncated: str = "drop"   # a source over an archive cap: drop (quarantined, reason truncated) | keep (flagged)
    git_blob_filter: bool = False  # partial clones of git remotes: blobs over max_file_bytes never downloaded
    seed: int = 0
    cache_dir: str = ".cache/crawl"
    github: GithubConfig = field(default_factory=GithubConfig)
    optout: Any = None                        # tasks.governance.optout.OptOutList: sources never crawled
    snapshot: str | None = None               # replay: crawl the pinned specs of this data/raw/snapshot.json

    def git_blob_limit(self) -> int | None:
        """The partial-clone blob size limit (git omits blobs of this many bytes or more), or None."""
        return self.max_file_bytes + 1 if self.git_blob_filter else None

    def limits(self) -> Limits:
        return Limits(max_members=self.max_archive_members, max_file_bytes=self.max_file_bytes,
                      max_total_bytes=self.max_total_bytes, max_ratio=self.max_ratio)

    def output_params(self) -> dict[str, Any]:
        """The settings that shape what a source yields (the key of its cached crawl)."""
        return {"max_file_bytes": self.max_file_bytes, "max_archive_members": self.max_archive_members,
                "max_total_bytes": self.max_total_bytes, "max_ratio": self.max_ratio,
                "on_truncated": self.on_truncated, "git_blob_filter": self.git_blob_filter}

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(timeout_s=self.timeout_s, retries=self.retries, backoff_base_s=self.backoff_base_s,
                           backoff_max_s=self.backoff_max_s, max_fetch_s=self.max_fetch_s,
                           max_bytes=self.max_total_bytes, seed=self.seed)


def resolve_manifest_path(path: str) -> Path:
    """A manifest path as given (relative to the working directory), else relative to the repo root."""
    candidate = Path(path)
    if candidate.exists() or candidate.is_absolute():
        return candidate
    in_repo = _PACKAGE_DIR.parent.parent / path
    return in_repo if in_repo.exists() else candidate


def load_manifest(path: str) -> tuple[dict[str, Any], ...]:
    """Validated specs of a manifest: a YAML list of specs, or a mapping with a `sources` list."""
    resolved = resolve_manifest_path(path)
    try:
        with open(resolved, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ParamError(f"crawl.manifest: cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ParamError(f"crawl.manifest: {path} is not valid YAML: {exc}") from None
    if isinstance(data, dict):
        data = data.get("sources")
    if not isinstance(data, list):
        raise ParamError(f"crawl.manifest: {path} must hold a list of source specs")
    return tuple(validate_spec(spec, f"crawl.manifest[{i}]") for i, spec in enumerate(data))


def config_from_params(section: dict[str, Any]) -> Config:
    """Validate the `crawl` section of params.yaml; every error names its dotted key."""
    if not isinstance(section, dict):
        raise ParamError("crawl: section missing or not a mapping in params.yaml")
    known = set(Config.__dataclass_fields__)
    for key in sorted(section):
        if key not in known:
            raise ParamError(f"crawl.{key}: unknown key; expected one of {', '.join(sorted(known))}")
    p = {"crawl": section}
    raw_sources = section.get("sources")
    manifest = get(p, "crawl.manifest", default=None, kind=str)
    if raw_sources is not None:
        if manifest is not None:
            raise ParamError("crawl.sources: give either crawl.sources or crawl.manifest, not both")
        if not isinstance(raw_sources, list):
            raise ParamError(f"crawl.sources: expected a list of source specs, got {type(raw_sources).__name__}")
        sources = tuple(validate_spec(s, f"crawl.sources[{i}]") for i, s in enumerate(raw_sources))
    else:
        manifest = manifest or DEFAULT_MANIFEST
        sources = load_manifest(manifest)
    cache_dir = get(p, "crawl.cache_dir", default=Config.cache_dir, kind=str)
    if not cache_dir.strip():
        raise ParamError("crawl.cache_dir: must not be empty")
    return Config(
        sources=sources,
        manifest=manifest,
        max_file_bytes=number(p, "crawl.max_file_bytes", lo=1, integer=True, default=Config.max_file_bytes),
        max_archive_members=number(p, "crawl.max_archive_members", lo=1, integer=True,
                                   default=Config.max_archive_members),
        max_total_bytes=number(p, "crawl.max_total_bytes", lo=1, integer=True, default=Config.max_total_bytes),
        max_ratio=float(number(p, "crawl.max_ratio", lo=1, default=Config.max_ratio)),
        timeout_s=float(number(p, "crawl.timeout_s", lo=0, lo_open=True, default=Config.timeout_s)),
        retries=number(p, "crawl.retries", lo=0, hi=100, integer=True, default=Config.retries),
        backoff_base_s=float(number(p, "crawl.backoff_base_s", lo=0, default=Config.backoff_base_s)),
        backoff_max_s=float(number(p, "crawl.backoff_max_s", lo=0, default=Config.backoff_max_s)),
        max_fetch_s=float(number(p, "crawl.max_fetch_s", lo=0, lo_open=True, default=Config.max_fetch_s)),
        on_truncated=choice(p, "crawl.on_truncated", ("drop", "keep"), default=Config.on_truncated),
        git_blob_filter=get(p, "crawl.git_blob_filter", default=Config.git_blob_filter, kind=bool),
        seed=number(p, "crawl.seed", integer=True, default=Config.seed),
        cache_dir=os.fspath(cache_dir),
        github=github_config_from_params(section.get("github")),
        optout=_optout(section.get("optout")),
        snapshot=get(p, "crawl.snapshot", default=None, kind=(str, type(None))),
    )


def _optout(section: Any) -> Any:
    """The opt-out list: patterns inline and/or a file (default tasks/crawl/optout.txt, a dvc.yaml dep of crawl)."""
    from tasks.governance.optout import optout_from_params

    section = dict(section or {})
    section.setdefault("file", str(_PACKAGE_DIR / "optout.txt"))
    if section["file"] is not None:
        section["file"] = str(resolve_manifest_path(section["file"]))
    return optout_from_params(section, name="crawl.optout")
