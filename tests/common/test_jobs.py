"""tasks/common/jobs.py: keys from remembered digests, links that leave nothing behind, committed jobs
resolved in the flow process without a task run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import flows._runtime as runtime
from tasks.common.jobs import DIGEST_XATTR, Job, file_digest, job_key, known_key, link_output, memoized_digest, run_job


def _xattrs_work(path: Path) -> bool:
    try:
        os.setxattr(path, "user.coder_pipeline.probe", b"1")
        return True
    except OSError:
        return False


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _upper(inputs, outs, suffix=""):
    Path(outs["out"]).write_text(Path(inputs[0]).read_text(encoding="utf-8").upper() + suffix, encoding="utf-8")
    return {"chars": len(Path(inputs[0]).read_text(encoding="utf-8"))}


def test_a_digest_is_remembered_until_the_file_changes(tmp_path):
    f = _write(tmp_path / "a.txt", "one")
    if not _xattrs_work(f):
        pytest.skip("no user xattrs on this filesystem (file_digest then always hashes)")
    assert memoized_digest(f) is None
    digest = file_digest(f)
    assert memoized_digest(f) == digest and os.getxattr(f, DIGEST_XATTR).decode().endswith(digest)
    os.setxattr(f, DIGEST_XATTR, os.getxattr(f, DIGEST_XATTR)[:-64] + b"0" * 64)
    assert file_digest(f) == "0" * 64  # proof that the memo, not the bytes, answered
    _write(f, "two, longer")  # new size and mtime: the memo no longer applies
    assert memoized_digest(f) is None and file_digest(f) != digest


def test_known_key_needs_every_digest_remembered_and_equals_job_key(tmp_path):
    a, b = _write(tmp_path / "a", "x"), _write(tmp_path / "b", "y")
    job = Job("s", "p", "salt", inputs=(str(a), str(b)), outputs={"out": None}, cache=str(tmp_path / "c"))
    if not _xattrs_work(a):
        pytest.skip("no user xattrs on this filesystem")
    file_digest(a)
    assert known_key(job) is None
    assert known_key(job) is None and job_key(job) == known_key(job)  # job_key remembered b's digest


def test_a_committed_output_carries_its_digest_and_links_leave_no_temporary_names(tmp_path):
    src = _write(tmp_path / "in.txt", "abc")
    out = tmp_path / "data" / "part-00000.txt"
    job = Job("s", "part-00000", "salt", inputs=(str(src),), outputs={"out": str(out)}, cache=str(tmp_path / "c"))
    summary = run_job(job, _upper)
    assert out.read_text() == "ABC" and not summary["_job"]["reused"]
    if _xattrs_work(src):
        assert memoized_digest(out) is not None  # the next stage keys it without reading it
    again = run_job(job, _upper)  # resolved again onto the same linked file (a worker restarted)
    assert again["_job"]["reused"] and out.read_text() == "ABC"
    link_output(Path(tmp_path / "c" / "s" / summary["_job"]["key"] / "out"), out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["part-00000.txt"]


def test_committed_jobs_are_resolved_in_the_flow_and_only_the_rest_reach_the_task_runner(tmp_path, monkeypatch):
    cache = str(tmp_path / "c")
    inputs = [_write(tmp_path / f"in{i}.txt", f"text {i}") for i in range(4)]
    if not _xattrs_work(inputs[0]):
        pytest.skip("no user xattrs on this filesystem")

    def jobs():
        return [Job("s", f"part-{i}", "salt", inputs=(str(p),), outputs={"out": str(tmp_path / "out" / f"{i}.txt")},
                    cache=cache) for i, p in enumerate(inputs)]

    submitted: list[str] = []

    def fake_map_shards(task, calls, desc):
        submitted.extend(call[1] for call in calls)
        return [run_job(call[2], call[3], *call[4]) for call in calls]

    monkeypatch.setattr(runtime, "map_shards", fake_map_shards)
    first = runtime.map_jobs(jobs(), _upper, "!", desc="s")
    assert submitted == ["part-0", "part-1", "part-2", "part-3"] and first.computed == 4
    _write(inputs[2], "changed")
    submitted.clear()
    second = runtime.map_jobs(jobs(), _upper, "!", desc="s")
    assert submitted == ["part-2"]
    assert (second.reused, second.computed) == (3, 1)
    assert [s["chars"] for s in second.summaries] == [6, 6, 7, 6]  # job order kept
    assert (tmp_path / "out" / "2.txt").read_text() == "CHANGED!"
    assert (tmp_path / "out" / "0.txt").read_text() == "TEXT 0!"
