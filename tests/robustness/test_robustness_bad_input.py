"""A hostile corpus the test generates goes through crawl -> filter -> order -> dedup -> quality (`dvc repro` in a
project copy): invalid UTF-8, UTF-16 with a BOM, NUL bytes, a 50 MB single-line file, an empty repo, a repo of
5,000 tiny files, 200 nested directories, names with a newline and non-UTF-8 bytes, an import cycle, and
50,000-deep nested brackets for the parsers. Each gets a recorded reason or is processed normally, the run
completes, and nothing is written outside the work tree (HOME and TMPDIR point at watched directories)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from robustness_support import partial_leftovers, tiny_params

from tests.support.project import make_project, project_env

N_TINY = 5_000  # a many-file repo at a size `make test` can afford on 2 cores (the soak of earlier runs took 20,000)
DEEP = 50_000


def build_hostile(base: Path) -> list[dict]:
    bad = base / "badrepo"
    (bad / "pkg").mkdir(parents=True)
    (bad / "pkg" / "invalid_utf8.py").write_bytes(b"x = '\xff\xfe\xfa'\n")
    (bad / "pkg" / "utf16.py").write_bytes("\ufeffdef f():\n    return 1\n".encode("utf-16"))
    (bad / "pkg" / "nul.py").write_bytes(b"def g():\n    return 0\x00\x00\n")
    with open(bad / "huge_line.js", "wb") as fh:  # 50 MB on one line
        chunk = b"var a=1;" * (1 << 17)
        for _ in range(50):
            fh.write(chunk)
    deep = bad
    for i in range(200):
        deep = deep / f"d{i % 10}"
    deep.mkdir(parents=True)
    (deep / "leaf.py").write_text("def leaf():\n    return 'deep down the tree'\n")
    (bad / "new\nline.py").write_text("def newline_name():\n    return 1\n")
    os.mkdir(os.fsencode(bad) + b"/bytes_\xff_dir")
    with open(os.fsencode(bad) + b"/bytes_\xff_dir/mod.py", "w") as fh:
        fh.write("def weird():\n    return 2\n")
    (bad / "pkg" / "cycle_a.py").write_text("from pkg import cycle_b\n\n\ndef ping(n):\n    return cycle_b.pong(n - 1)\n")
    (bad / "pkg" / "cycle_b.py").write_text("from pkg import cycle_a\n\n\ndef pong(n):\n    return cycle_a.ping(n) if n else 0\n")
    (bad / "pkg" / "nested.py").write_text("value = " + "call_fn(\n" * DEEP + ")\n" * DEEP)
    (bad / "pkg" / "ok.py").write_text("def normal(values):\n    return [v * 2 for v in values if v]\n")

    (base / "emptyrepo").mkdir()
    many = base / "manyrepo"
    many.mkdir()
    for i in range(N_TINY):
        (many / f"f{i:05d}.py").write_text(f"v{i} = {i}\n")
    return [{"type": "local", "name": n, "path": str(base / n)} for n in ("badrepo", "emptyrepo", "manyrepo")]


def read_parts(directory: Path, columns: list[str] | None = None) -> list[dict]:
    """Rows of a stage output's shards (part-*.parquet; rejected/quarantine tables are separate files)."""
    return [r for f in sorted(directory.glob("part-*.parquet")) for r in pq.read_table(f, columns=columns).to_pylist()]


def test_hostile_corpus_runs_through_data_stages(tmp_path: Path, prefect_api_url: str) -> None:
    specs = build_hostile(tmp_path / "corpus")
    home, tmpdir = tmp_path / "home", tmp_path / "tmpdir"
    home.mkdir(), tmpdir.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = t\n\temail = t@example.invalid\n")
    before_home = sorted(os.listdir(home))
    p = make_project(tmp_path / "p", tiny_params(specs, tmp_path / "cache"),
                     stages=["crawl", "filter", "redact", "order", "dedup", "quality"])
    env = project_env(p)
    env.update(HOME=str(home), TMPDIR=str(tmpdir), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"))
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=p, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    raw = {(r["repo"].split("/")[1], r["path"]): r for r in
           read_parts(p / "data/raw", ["repo", "path", "skip_reason", "size"])}
    bad = {path: r for (repo, path), r in raw.items() if repo == "badrepo"}
    assert bad["huge_line.js"]["skip_reason"] == "too_large" and bad["huge_line.js"]["size"] == 50 << 20
    assert bad["pkg/invalid_utf8.py"]["skip_reason"] == "invalid_utf8"
    assert bad["pkg/utf16.py"]["skip_reason"] == "invalid_utf8"  # UTF-16 (BOM or not) is not UTF-8 text
    assert bad["pkg/nul.py"]["skip_reason"] == "binary"  # NUL bytes
    assert bad["pkg/nested.py"]["skip_reason"] is None  # 550 kB of nesting is ordinary text to the crawl
    assert any(path.endswith("/leaf.py") and path.count("/") == 200 for path in bad)
    assert sum(1 for (repo, _) in raw if repo == "manyrepo") == N_TINY
    assert not any(repo == "emptyrepo" for (repo, _) in raw)
    assert not any("\n" in path or "\ufffd" in path for path in bad), "odd names must be rejected, not mangled"

    crawl = json.loads((p / "metrics/crawl.json").read_text())
    rejected = pq.read_table(p / "data/raw/rejected.parquet").to_pylist() if (p / "data/raw/rejected.parquet").exists() else []
    assert sorted((r["member"], r["reason"]) for r in rejected) == [
        ("bytes_\\xff_dir/mod.py", "bad_name"), ("new\nline.py", "bad_name")], rejected  # recorded, escaped
    assert crawl["repos"] == 3 and crawl["repos_failed"] == 0  # the empty repo is a repo with no files
    assert crawl["rejected"] == {"bad_name": 2}
    decisions = read_parts(p / "data/filter_decisions")
    assert all(d["kept"] == (d["reason"] is None) for d in decisions)
    assert {d["path"] for d in decisions if d["repo"].startswith("local/badrepo")} >= {"huge_line.js", "pkg/ok.py"}

    ordered = read_parts(p / "data/ordered", ["repo", "files"])
    files = {f for s in ordered if s["repo"].startswith("local/badrepo") for f in s["files"]}
    assert {"pkg/cycle_a.py", "pkg/cycle_b.py", "pkg/ok.py"} <= files  # the cycle is broken, both files kept
    assert ["pkg/cycle_a.py", "pkg/cycle_b.py"] in [s["files"] for s in ordered]  # one sample, a stable order
    qd = read_parts(p / "data/quality_decisions")
    nested = [d for d in qd if d["path"] == "pkg/nested.py"]
    # the parser-crashing file (compile() hits the nesting limit) is removed with a reason, the run goes on
    assert [d["reason"] for d in nested] == ["syntax_python"], nested
    assert partial_leftovers(p / "data") == []
    new_home = sorted(set(os.listdir(home)) - set(before_home))
    assert new_home == [], new_home
