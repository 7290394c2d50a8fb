"""`make audit`: the reproducibility audit. Two clean copies of the project, `dvc repro` in each with the same
params, then every output hash in the two dvc.lock files is compared.

Usage: `python -m flows.audit [--stages crawl filter ...] [--params-override FILE] [--keep] [--workdir DIR]`.
Exit 0 when every output is byte-identical, 1 when any differs, 2 when a run fails.

Why a copy and not two runs in place: a clean directory proves nothing leaks in from earlier runs (stale
outputs, a warm DVC cache). Only the crawl download cache is shared (it is content-addressed: a cache hit
gives the same bytes as a download), so the audit does not fetch the sources twice.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPY = ["flows", "tasks", "expectations", "infra", "assets", "dvc.yaml", "params.yaml", "pyproject.toml"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
SHARED_CACHES = {("crawl", "cache_dir"): ".cache/crawl", ("quality", "decontam", "cache_dir"): ".cache/quality"}


def deep_update(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """Merge `updates` into `base`; a None value removes the key."""
    for key, value in updates.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def _outs(stage: dict[str, Any]) -> list[str]:
    return [next(iter(o)) if isinstance(o, dict) else str(o)
            for key in ("outs", "metrics", "plots") for o in stage.get(key) or []]


def _deps(stage: dict[str, Any]) -> list[str]:
    return [next(iter(d)) if isinstance(d, dict) else str(d) for d in stage.get("deps") or []]


def with_upstream(stages: dict[str, Any], wanted: list[str]) -> list[str]:
    """`wanted` plus every stage whose outputs they depend on (read from dvc.yaml, never hand-coded)."""
    unknown = [s for s in wanted if s not in stages]
    if unknown:
        raise SystemExit(f"audit: unknown stage(s) {', '.join(unknown)}; dvc.yaml has {', '.join(stages)}")
    producer = {out: name for name, st in stages.items() for out in _outs(st)}
    keep, todo = set(), list(wanted)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        for dep in _deps(stages[name]):
            for out, prod in producer.items():
                if dep == out or dep.startswith(out.rstrip("/") + "/") or out.startswith(dep.rstrip("/") + "/"):
                    todo.append(prod)
    return [s for s in stages if s in keep]


def load_override(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SystemExit(f"audit: {path}: the override must be a mapping of params sections")
    return data


def make_copy(dest: Path, params: dict[str, Any], stages: list[str] | None) -> Path:
    """A clean copy of the project: code, dvc.yaml, params.yaml; its own git and DVC repositories."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if stages is not None:
        dvc_yaml = yaml.safe_load((dest / "dvc.yaml").read_text())
        dvc_yaml["stages"] = {k: v for k, v in dvc_yaml["stages"].items() if k in stages}
        (dest / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    if (ROOT / ".gitignore").exists():
        shutil.copy2(ROOT / ".gitignore", dest / ".gitignore")
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=dest, check=True)
    # a first commit, as in a real clone (dvclive reads the repository's baseline revision)
    git_env = dict(os.environ, GIT_AUTHOR_NAME="audit", GIT_AUTHOR_EMAIL="audit@coder-pipeline.invalid",
                   GIT_COMMITTER_NAME="audit", GIT_COMMITTER_EMAIL="audit@coder-pipeline.invalid")
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True, env=git_env)
    subprocess.run(["git", "commit", "-q", "-m", "project copy"], cwd=dest, check=True, env=git_env)
    return dest


def copy_env(dest: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(dest)
    env["CODER_PIPELINE_PARAMS"] = str(dest / "params.yaml")
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return env


def shared_caches(params: dict[str, Any]) -> dict[str, Any]:
    """Relative cache dirs point at this work tree's caches so both copies share (and keep) them."""
    for keys, default in SHARED_CACHES.items():
        node = params
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            value = node.get(keys[-1], default)
            if value and not Path(str(value)).is_absolute():
                node[keys[-1]] = str(ROOT / str(value))
    return params


def lock_hashes(dest: Path) -> dict[tuple[str, str], str]:
    """(stage, path) -> hash of every output in dvc.lock (md5; directories end in .dir)."""
    lock_path = dest / "dvc.lock"
    if not lock_path.exists():
        return {}
    lock = yaml.safe_load(lock_path.read_text()) or {}
    return {(name, o["path"]): str(o.get("md5") or o.get("hash") or "")
            for name, st in (lock.get("stages") or {}).items() for o in st.get("outs") or []}


def compare(a: dict[tuple[str, str], str], b: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    rows = []
    for stage, path in sorted(set(a) | set(b)):
        ha, hb = a.get((stage, path), ""), b.get((stage, path), "")
        rows.append({"stage": stage, "path": path, "hash_a": ha, "hash_b": hb, "identical": bool(ha) and ha == hb})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = ["stage", "path", "hash A", "hash B", "identical"]
    body = [[r["stage"], r["path"], r["hash_a"] or "-", r["hash_b"] or "-", "yes" if r["identical"] else "NO"]
            for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in body])


def repro(dest: Path, label: str, timeout_s: float) -> tuple[int, float]:
    started = time.monotonic()
    print(f"[audit] {label}: dvc repro in {dest}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=dest, env=copy_env(dest),
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        sys.stderr.write(f"[audit] {label}: dvc repro failed ({proc.returncode})\n{proc.stdout[-4000:]}\n"
                         f"{proc.stderr[-4000:]}\n")
    return proc.returncode, time.monotonic() - started


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m flows.audit", description=__doc__.splitlines()[0])
    ap.add_argument("--stages", nargs="+", help="stages to reproduce (their upstream stages are added); default all")
    ap.add_argument("--params-override", help="YAML or JSON file merged into params.yaml (null removes a key)")
    ap.add_argument("--keep", action="store_true", help="keep the two project copies (their paths are printed)")
    ap.add_argument("--workdir", help="where to make the copies (default: a new temp dir)")
    ap.add_argument("--json", help="also write the comparison rows to this JSON file")
    ap.add_argument("--timeout-s", type=float, default=6 * 3600, help="bound on each dvc repro")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    params = yaml.safe_load((ROOT / "params.yaml").read_text()) or {}
    params = shared_caches(deep_update(params, load_override(args.params_override)))
    all_stages = (yaml.safe_load((ROOT / "dvc.yaml").read_text()) or {}).get("stages") or {}
    stages = with_upstream(all_stages, args.stages) if args.stages else None

    from flows.server import ensure_api_url

    os.environ["PREFECT_API_URL"] = ensure_api_url()  # one server for both runs
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="coder-pipeline-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        copies = [make_copy(work / name, json.loads(json.dumps(params)), stages) for name in ("a", "b")]
        for label, dest in zip("AB", copies):
            rc, seconds = repro(dest, label, args.timeout_s)
            if rc != 0:
                return 2
            print(f"[audit] {label}: done in {seconds:.0f}s", flush=True)
        rows = compare(lock_hashes(copies[0]), lock_hashes(copies[1]))
        print(format_table(rows))
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
        differing = [r for r in rows if not r["identical"]]
        if not rows:
            print("[audit] no outputs in dvc.lock: nothing was compared", file=sys.stderr)
            return 1
        if differing:
            print(f"[audit] NOT reproducible: {len(differing)} of {len(rows)} outputs differ", file=sys.stderr)
            return 1
        print(f"[audit] reproducible: all {len(rows)} outputs identical")
        return 0
    finally:
        if args.keep:
            print(f"[audit] copies kept in {work}")
        elif not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for name in ("a", "b"):
                shutil.rmtree(work / name, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
