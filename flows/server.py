"""The project's own Prefect server: local, bound to 127.0.0.1, on SQLite or PostgreSQL.

Without PREFECT_API_URL every `python -m flows.<stage>` would start a temporary server (~13 s each), so
a run starts (or reuses) one server and points every stage at it. State lives in `.prefect/` inside
the work tree. Usage: `python -m flows.server start|stop|status|url`.

The database (CODER_PIPELINE_PREFECT_DB): `sqlite` (default; one writer at a time, fine for a run of a
few hundred task runs), `postgres` (a PostgreSQL cluster the project creates and starts in
`.prefect/pg/` with the distribution's binaries: a night over thousands of partitions means thousands
of task runs, which SQLite serialises), or the URL of an existing database
(`postgresql+asyncpg://user:password@host:5432/prefect`).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = int(os.environ.get("CODER_PIPELINE_PREFECT_PORT", "4200"))


def prefect_home(root: Path = ROOT) -> Path:
    return Path(os.environ.get("PREFECT_HOME", root / ".prefect"))


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port the OS has just found free on `host`: for a second server beside the default one (tests,
    benchmarks), or services the tests start."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def api_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    return f"http://{host}:{port}/api"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


DB_ENV = "CODER_PIPELINE_PREFECT_DB"
PG_PORT_OFFSET = 1000  # the managed PostgreSQL listens on the server's port + this


def database_url(home: Path, port: int) -> str | None:
    """The server's database URL for CODER_PIPELINE_PREFECT_DB (None: Prefect's SQLite in PREFECT_HOME)."""
    choice = os.environ.get(DB_ENV, "sqlite").strip()
    if choice in ("", "sqlite"):
        return None
    if choice == "postgres":
        return ensure_postgres(home / "pg", port + PG_PORT_OFFSET)
    if choice.startswith("postgresql"):
        return choice
    raise ValueError(f"{DB_ENV}: expected sqlite, postgres or a postgresql+asyncpg:// URL, got {choice!r}")


def _pg_bin(name: str) -> str:
    import glob
    import shutil

    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: install the distribution's package "
                           "(apt-get install postgresql) or point CODER_PIPELINE_PREFECT_DB at an existing database")
    return found


def _as_postgres_user(cmd: list[str], root: Path) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the distribution's `postgres` user."""
    if os.geteuid() != 0:
        return cmd
    import shutil

    for parent in root.resolve().parents:  # the postgres user must be able to walk down to its directory
        if not os.stat(parent).st_mode & 0o001:
            raise RuntimeError(f"PostgreSQL runs as user postgres, which cannot enter {parent} (mode "
                               f"{oct(os.stat(parent).st_mode & 0o777)}): keep PREFECT_HOME under a directory "
                               "others may traverse, or use an existing database (CODER_PIPELINE_PREFECT_DB=<url>)")
    subprocess.run(["chown", "-R", "postgres:postgres", str(root)], check=True)
    return [shutil.which("runuser") or "runuser", "-u", "postgres", "--", *cmd]


def ensure_postgres(root: Path, port: int) -> str:
    """A PostgreSQL cluster in `root` (created on first use, trust auth on 127.0.0.1 only), running on
    `port`, with a `prefect` database; its asyncpg URL."""
    data, run = root / "data", root / "run"
    run.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(_as_postgres_user([_pg_bin("initdb"), "-D", str(data), "-U", "prefect", "-A", "trust",
                                          "-E", "UTF8", "--no-instructions"], root),
                       check=True, capture_output=True, text=True)
    probe = subprocess.run([_pg_bin("pg_ctl"), "-D", str(data), "status"], capture_output=True, text=True)
    if probe.returncode != 0:
        subprocess.run(_as_postgres_user([_pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(root / "postgres.log"),
                                          "-o", f"-p {port} -h 127.0.0.1 -k {run} -c max_connections=200",
                                          "start"], root), check=True, capture_output=True, text=True)
    created = subprocess.run([_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "prefect", "-d", "postgres",
                              "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'prefect'"],
                             capture_output=True, text=True, check=True)
    if created.stdout.strip() != "1":
        subprocess.run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "prefect", "prefect"],
                       check=True, capture_output=True, text=True)
    return f"postgresql+asyncpg://prefect@127.0.0.1:{port}/prefect"


def stop_postgres(root: Path) -> bool:
    data = root / "data"
    if not (data / "PG_VERSION").exists():
        return False
    proc = subprocess.run(_as_postgres_user([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], root),
                          capture_output=True, text=True)
    return proc.returncode == 0


def server_env(home: Path, port: int = DEFAULT_PORT) -> dict[str, str]:
    env = dict(os.environ)
    db = database_url(home, port)
    if db:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = db
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST=DEFAULT_HOST,
        PREFECT_UI_API_URL=api_url(port=port),  # the UI must call this server, not the default port
        PREFECT_UI_ENABLED=env.get("PREFECT_UI_ENABLED", "true"),
        PREFECT_LOGGING_LEVEL=env.get("PREFECT_LOGGING_LEVEL", "WARNING"),
    )
    env.pop("PREFECT_API_URL", None)
    return env


def start(port: int = DEFAULT_PORT, home: Path | None = None, timeout_s: float = 120.0, wait: bool = True) -> str:
    """Start a server in the background unless one already answers on the port; return its API URL.

    With wait=False it returns at once (call `wait_healthy` before using it)."""
    url = api_url(port=port)
    if is_healthy(url):
        return url
    home = home or prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / f"server-{port}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", DEFAULT_HOST, "--port", str(port),
         "--analytics-off", "--log-level", "WARNING"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=server_env(home, port),
        start_new_session=True,
    )
    (home / f"server-{port}.pid").write_text(str(proc.pid))
    if wait:
        wait_healthy(url, timeout_s, proc=proc, log=home / f"server-{port}.log")
    return url


def wait_healthy(url: str, timeout_s: float = 120.0, proc: subprocess.Popen | None = None,
                 log: Path | None = None) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_healthy(url):
            return url
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see {log}")
        time.sleep(0.5)
    if proc is not None:
        proc.terminate()
    raise TimeoutError(f"prefect server did not become healthy on {url} within {timeout_s:.0f}s")


def stop(port: int = DEFAULT_PORT, home: Path | None = None, wait_s: float = 0.0) -> bool:
    """SIGTERM the server's process group; with wait_s > 0, wait (then SIGKILL) until it is gone and the port free."""
    pid_file = (home or prefect_home()) / f"server-{port}.pid"
    if not pid_file.exists():
        return False
    try:
        pgid = int(pid_file.read_text())
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, ValueError, PermissionError):
        pgid = None
    pid_file.unlink(missing_ok=True)
    stop_postgres((home or prefect_home()) / "pg")
    deadline = time.monotonic() + wait_s
    while pgid is not None and wait_s > 0:
        try:
            os.waitpid(pgid, os.WNOHANG)  # reap it when it is our child (a zombie still "exists")
        except ChildProcessError:
            pass
        try:
            os.killpg(pgid, signal.SIGKILL if time.monotonic() > deadline else 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    return True


def ensure_api_url() -> str:
    """The API URL stages should use: PREFECT_API_URL if set, else the project's local server (started if needed)."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    url = start()
    os.environ["PREFECT_API_URL"] = url
    return url


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    if cmd == "start":
        print(start())
    elif cmd == "stop":
        print("stopped" if stop() else "no server started by this project")
    elif cmd == "url":
        print(api_url())
    elif cmd == "status":
        url = api_url()
        print(f"{url}: {'healthy' if is_healthy(url) else 'not reachable'}")
    else:
        print("usage: python -m flows.server start|stop|status|url", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
