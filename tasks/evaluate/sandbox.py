"""Run untrusted, model-written programs: one process per program, locked down, killed on timeout.

This side gives each program a throwaway directory and stdout/stderr as files (RLIMIT_FSIZE then caps
output without reader threads), and asks a fork server (`_boot.py`, a warm interpreter with a fixed
environment: PYTHONHASHSEED=0, so string set order in a program is the same on every run) to fork a
child for it. The child gets its own session (a timeout kills the whole process group), namespaces,
an unprivileged uid, rlimits and an audit guard, and reports which layers it got. Programs run in
parallel from a thread pool, one fork server per busy thread: threads only wait, so they are cheap.

Programs in other languages come with a `Command` (from `toolchains.command`): the same child, after
the same lockdown, writes the source under the command's file name and execs `/bin/sh -c script`,
which compiles and runs it (see `_boot.py`, layer `exec`).
"""
from __future__ import annotations

import atexit
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

BOOT = str(Path(__file__).with_name("_boot.py"))
STATUSES = ("passed", "failed", "timeout", "oom", "output_limit", "error")
_UID_BASE, _UID_SPAN = 2_000_000, 1_000_000
_uid_rng = random.SystemRandom()


@dataclass(frozen=True)
class Limits:
    """Resource limits of one program run (the timeout is passed separately)."""

    memory_mb: int = 1024     # RLIMIT_AS
    fsize_mb: int = 16        # RLIMIT_FSIZE: largest file, stdout and stderr included
    nproc: int = 32           # RLIMIT_NPROC of the run's private uid (processes + threads)
    nofile: int = 64          # RLIMIT_NOFILE
    tmpfs_mb: int = 64        # size of the private /tmp when namespaces are available
    output_tail: int = 2000   # characters of stdout/stderr kept in the Result
    isolate: bool = True      # namespaces + uid drop when running as root
    audit_guard: bool = True  # audit-hook guard (no sockets, subprocesses, writes outside cwd)


@dataclass(frozen=True)
class Command:
    """How a program in another language runs: its source is written to `filename` in the run's
    working directory, then `script` (POSIX sh, run there) builds and runs it; exit status 0 = passed.
    `env` adds variables to the sandbox's fixed environment."""

    filename: str
    script: str
    env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if "/" in self.filename or not self.filename.strip("."):
            raise ValueError(f"Command.filename must be a plain file name, got {self.filename!r}")
        for key, value in self.env:
            if any(c in key + value for c in "\t\n\x1f") or "=" in key:
                raise ValueError(f"Command.env: {key!r} cannot travel to the fork server")


@dataclass(frozen=True)
class Result:
    status: str               # one of STATUSES
    returncode: int | None    # exit code, or -signal
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    detail: str               # last stderr line, or why the status was given
    isolation: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["isolation"] = list(self.isolation)
        return d


@lru_cache(maxsize=1)
def _site_paths() -> list[str]:
    """This interpreter's site-packages, so programs can import what it has (numpy, for MBPP)."""
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tail(path: Path, n: int) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - 4 * n))
        return fh.read().decode("utf-8", "replace")[-n:]


def _classify(timed_out: bool, returncode: int | None, report: dict[str, Any], stderr_tail: str,
              out_sizes: tuple[int, int], fsize_bytes: int) -> tuple[str, str]:
    last = next((ln.strip() for ln in reversed(stderr_tail.splitlines()) if ln.strip()), "")
    if timed_out:
        return "timeout", "wall-clock timeout"
    if "layers" not in report:
        return "error", f"sandbox setup failed: {last or returncode}"
    if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return "timeout", "cpu time limit"
    if max(out_sizes) >= fsize_bytes:
        return "output_limit", last or "output over the size cap"
    if returncode == 0:
        return "passed", ""
    if any(m in last for m in ("MemoryError", "OutOfMemoryError", "std::bad_alloc")) or last.endswith(
            "Cannot allocate memory"):
        return "oom", last
    if "File too large" in last:
        return "output_limit", last
    return "failed", last or f"exit {returncode}"


class _ForkServer:
    """One `_boot.py` fork server: a warm interpreter that forks a locked-down child per program."""

    def __init__(self) -> None:
        env = dict(_ENV, SANDBOX_SITE_PATHS=os.pathsep.join(_site_paths()))
        # -S: no site (~100 ms, and it would add our editable install; _boot adds site-packages);
        # -P: no script dir on sys.path; env replaces the parent's, so no PYTHONPATH leaks in while
        # PYTHONHASHSEED stays fixed (-I would ignore it).
        self.proc = subprocess.Popen([sys.executable, "-S", "-s", "-P", "-B", BOOT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd="/",
                                     start_new_session=True, close_fds=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, cfg: dict[str, Any], wait_s: float) -> dict[str, str]:
        line = "\t".join(f"{k}={v}" for k, v in cfg.items()) + "\n"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode("utf-8", "surrogateescape"))
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], wait_s)
        if not ready:
            raise TimeoutError("fork server did not answer")
        answer = self.proc.stdout.readline().decode("utf-8", "replace").rstrip("\n")
        if not answer:
            raise RuntimeError("fork server exited")
        return dict(item.split("=", 1) for item in answer.split("\t") if "=" in item)

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_idle: list[_ForkServer] = []
_idle_lock = threading.Lock()
_MAX_IDLE = 16


def _acquire() -> _ForkServer:
    with _idle_lock:
        while _idle:
            server = _idle.pop()
            if server.alive():
                return server
    return _ForkServer()


def _release(server: _ForkServer) -> None:
    with _idle_lock:
        if server.alive() and len(_idle) < _MAX_IDLE:
            _idle.append(server)
            return
    server.close()


def _forget_inherited_servers() -> None:
    """After a fork, the idle servers' pipes belong to the parent: the child starts its own."""
    global _idle_lock
    _idle_lock = threading.Lock()
    _idle.clear()


os.register_at_fork(after_in_child=_forget_inherited_servers)


@atexit.register
def shutdown() -> None:
    """Stop the idle fork servers (they also exit by themselves when this process goes away)."""
    with _idle_lock:
        servers, _idle[:] = list(_idle), []
    for server in servers:
        server.close()


def run_program(code: str, timeout_s: float = 5.0, limits: Limits | None = None,
                command: Command | None = None) -> Result:
    """Run `code` sandboxed: as `__main__` in a Python process, or with `command` for another language;
    passed means it exited with status 0."""
    limits = limits or Limits()
    base = Path(tempfile.mkdtemp(prefix="coder-eval-"))
    start = time.monotonic()
    server = None
    try:
        (base / "program.py").write_text(code, encoding="utf-8", errors="surrogateescape")
        work = base / "work"
        work.mkdir()
        cfg = {
            "program": base / "program.py", "workdir": work, "stdout": base / "stdout", "stderr": base / "stderr",
            "timeout": timeout_s, "isolate": int(limits.isolate), "audit": int(limits.audit_guard),
            "memory_mb": limits.memory_mb, "fsize_mb": limits.fsize_mb, "nproc": limits.nproc,
            "nofile": limits.nofile, "tmpfs_mb": limits.tmpfs_mb, "cpu_s": max(1, int(timeout_s) + 1),
            "uid": _UID_BASE + _uid_rng.randrange(_UID_SPAN),
        }
        if command is not None:
            (base / "run.sh").write_text(command.script, encoding="utf-8")
            cfg.update(script=base / "run.sh", filename=command.filename,
                       env="\x1f".join(f"{k}={v}" for k, v in command.env))
        server = _acquire()
        try:
            report = server.request(cfg, timeout_s + 30.0)
        except BaseException:
            server.proc.kill()
            raise
        finally:
            _release(server)
        if "error" in report:
            raise RuntimeError(f"fork server: {report['error']}")
        stdout_tail = _tail(base / "stdout", limits.output_tail)
        stderr_tail = _tail(base / "stderr", limits.output_tail)
        sizes = (_size(base / "stdout"), _size(base / "stderr"))
        returncode = int(report["returncode"])
        status, detail = _classify(report.get("timed_out") == "1", returncode, report, stderr_tail, sizes,
                                   limits.fsize_mb << 20)
        return Result(status, returncode, float(report.get("duration", time.monotonic() - start)), stdout_tail,
                      stderr_tail, detail[:500], tuple(x for x in report.get("layers", "").split(",") if x))
    except Exception as exc:  # a harness-side failure is recorded for this program, never raised
        return Result("error", None, round(time.monotonic() - start, 4), "", "", f"{type(exc).__name__}: {exc}", ())
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_programs(codes: Sequence[str], timeout_s: float = 5.0, limits: Limits | None = None,
                 workers: int = 4, command: Command | None = None) -> list[Result]:
    """Run many programs in parallel; results come back in input order. Identical programs run once."""
    unique = sorted(set(codes))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = dict(zip(unique, pool.map(lambda c: run_program(c, timeout_s, limits, command), unique)))
    return [results[c] for c in codes]


@lru_cache(maxsize=8)
def sandbox_support(limits: Limits | None = None) -> tuple[str, ...]:
    """The isolation layers a program actually gets on this machine (probed once per process)."""
    return run_program("pass\n", 30.0, limits).isolation
