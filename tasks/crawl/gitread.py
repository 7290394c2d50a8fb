"""Read the files of one git commit blob by blob, so one unreadable blob costs one file, not the repo.

`git archive` fails as a whole when a single blob is missing (a partial clone, a damaged mirror). Here
the tree is listed once (`git ls-tree -r -z --full-tree`) and blobs are streamed through one
`git cat-file --batch` process, which answers `<oid> missing` for an absent object. Blob bytes go
through the archive reader of extract.py (same caps, hashing and ArchiveFile records as a tar), so a
complete repository yields exactly the files `git archive` + `iter_archive` gave.

A partial (promisor) clone would lazily fetch a missing blob on access, and git 2.39 has neither
GIT_NO_LAZY_FETCH nor a cat-file option against it; `-c remote.origin.promisor=false` does not unset
a promisor remote either. So every read runs in a throw-away "view" repository whose only link to the
mirror is `objects/info/alternates`: it has no remote, hence no promisor, and git reads what is there.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, NamedTuple

from tasks.crawl.extract import ArchiveFile, Limits, Rejection, _Reader, _Stop
from tasks.crawl.sources import _GIT_ENV, SourceError, git_bytes

MISSING_BLOB = "missing_blob"  # the blob is absent from the object store (damaged or partial clone)
TOO_LARGE = "too_large"        # omitted by the clone's size filter: its size is over max_file_bytes
SYMLINK_MODE, GITLINK_MODE = b"120000", b"160000"
_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                  "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
                  "GIT_CONFIG_COUNT")
_LIMIT = re.compile(r"^blob:limit=(\d+)([kmg]?)$", re.IGNORECASE)


class Unread(NamedTuple):
    """A file of the tree whose bytes could not be read: it keeps a row, content null, this reason."""
    path: str
    reason: str


class _Entry(NamedTuple):
    mode: bytes
    oid: str
    raw: str  # the path as git stores it, undecodable bytes kept as surrogates (-> bad_name)


def blob_filter_limit(repo: str) -> int | None:
    """The `blob:limit=<n>` a partial clone was made with (None for a full clone or another filter)."""
    out = subprocess.run(["git", "config", "--file", os.path.join(repo, "config"), "--get-regexp",
                          r"^remote\..*\.partialclonefilter$"], capture_output=True, text=True,
                         env={**os.environ, **_GIT_ENV}, check=False)
    for line in out.stdout.splitlines():
        m = _LIMIT.match(line.split(" ", 1)[-1].strip())
        if m:
            return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return None


def missing_reason(repo: str, max_file_bytes: int) -> str:
    """`too_large` when the clone's filter omits only blobs over max_file_bytes, else `missing_blob`.

    A `blob:limit=<n>` clone omits blobs of size >= n, so with n > max_file_bytes every absent blob was
    over the cap. A server that ignored the filter gives a full clone: nothing is absent there.
    """
    limit = blob_filter_limit(repo)
    return TOO_LARGE if limit is not None and limit > max_file_bytes else MISSING_BLOB


@contextmanager
def object_view(repo: str, sha: str) -> Iterator[dict[str, str]]:
    """The environment of git commands that read `repo`'s objects with no promisor remote in sight.

    User and system config are ignored too (a global `remote.x.promisor` would re-enable lazy fetching).
    """
    with tempfile.TemporaryDirectory(prefix="gitview-") as view:
        os.makedirs(os.path.join(view, "objects", "info"))
        os.makedirs(os.path.join(view, "refs"))
        with open(os.path.join(view, "HEAD"), "w", encoding="utf-8") as fh:
            fh.write("ref: refs/heads/main\n")
        sha256 = len(sha) == 64
        with open(os.path.join(view, "config"), "w", encoding="utf-8") as fh:
            fh.write(f"[core]\n\trepositoryformatversion = {1 if sha256 else 0}\n\tbare = true\n"
                     + ("[extensions]\n\tobjectformat = sha256\n" if sha256 else ""))
        with open(os.path.join(view, "objects", "info", "alternates"), "w", encoding="utf-8") as fh:
            fh.write(os.path.join(os.path.abspath(repo), "objects") + "\n")
        env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}
        env.update(_GIT_ENV, GIT_DIR=view, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
        yield env


def list_tree(env: dict[str, str], sha: str, timeout: float) -> list[_Entry]:
    """Every non-tree entry of the commit's tree, in git's tree order (what `git archive` walks)."""
    listing = git_bytes(["ls-tree", "-r", "-z", "--full-tree", sha], env=env, timeout=timeout)
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, _kind, oid = meta.split(b" ")
        entries.append(_Entry(mode, oid.decode("ascii"), name.decode("utf-8", "surrogateescape")))
    return entries


class _Blob:
    """File-like view of the next `size` bytes of cat-file's output (what _Reader.read_file streams)."""

    def __init__(self, cat: _CatFile, stream: IO[bytes], size: int):
        self.cat, self.stream, self.left = cat, stream, size

    def read(self, n: int) -> bytes:
        chunk = self.stream.read(min(n, self.left)) if self.left else b""
        if self.left and not chunk:
            raise self.cat.failure("output ended inside a blob")
        self.left -= len(chunk)
        return chunk

    def drain(self) -> None:
        while self.read(1 << 16):
            pass


class _CatFile:
    """One `git cat-file --batch` fed by a thread with every oid to read, answers read in order."""

    def __init__(self, env: dict[str, str], oids: list[str], timeout: float):
        self.errors = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(["git", "cat-file", "--batch", "--buffer"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.errors, env=env)
        except OSError as exc:
            self.errors.close()
            raise SourceError(f"git cat-file: {exc}") from exc
        self.timer = threading.Timer(timeout, self.proc.kill)
        self.timer.start()
        self.timeout = timeout
        self.feeder = threading.Thread(target=self._feed, args=(oids,), daemon=True)
        self.feeder.start()

    def _feed(self, oids: list[str]) -> None:
        assert self.proc.stdin is not None
        try:
            for i in range(0, len(oids), 512):
                self.proc.stdin.write("".join(f"{oid}\n" for oid in oids[i:i + 512]).encode("ascii"))
            self.proc.stdin.close()
        except OSError:  # killed after a cap was hit, or on timeout: the reader reports it
            pass

    def failure(self, what: str) -> SourceError:
        """The error to raise when the answers stop making sense (the timer's kill included)."""
        self.proc.kill()
        self.proc.wait()
        if not self.timer.is_alive() and self.proc.returncode != 0:
            return SourceError(f"git cat-file: timed out after {self.timeout}s")
        self.errors.seek(0)
        msg = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        return SourceError(f"git cat-file: {what}" + (f" ({msg[-1]})" if msg else ""))

    def next(self, oid: str) -> _Blob | None:
        """The next answer, which must be about `oid`: its bytes, or None when the object is missing."""
        assert self.proc.stdout is not None
        header = self.proc.stdout.readline()
        fields = header.split()
        if len(fields) == 2 and fields[1] == b"missing" and fields[0].decode("ascii", "replace") == oid:
            return None
        if len(fields) != 3 or fields[0].decode("ascii", "replace") != oid or not fields[2].isdigit():
            raise self.failure(f"unexpected answer for {oid}: {header[:120]!r}")
        if fields[1] != b"blob":
            raise self.failure(f"{oid} is a {fields[1].decode('ascii', 'replace')}, not a blob")
        return _Blob(self, self.proc.stdout, int(fields[2]))

    def end_of_blob(self) -> None:
        assert self.proc.stdout is not None
        if self.proc.stdout.read(1) != b"\n":
            raise self.failure("missing newline after a blob")

    def close(self) -> None:
        self.timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.feeder.join()
        for stream in (self.proc.stdin, self.proc.stdout, self.errors):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def _walk(entries: list[_Entry], cat: _CatFile, reader: _Reader, unread: list[Unread], missing: str) -> None:
    """Entries in tree order, as _walk_tar treats tar members; every regular file's answer is consumed."""
    for entry in entries:
        reader.count_member(entry.raw)
        if entry.mode == SYMLINK_MODE:
            reader.rejected.append(Rejection(entry.raw, "symlink"))
            continue
        if entry.mode == GITLINK_MODE:
            reader.rejected.append(Rejection(entry.raw, "submodule"))
            continue
        if not entry.mode.startswith(b"100"):
            reader.rejected.append(Rejection(entry.raw, "unsupported_type"))
            continue
        path = reader.accept_name(entry.raw)
        blob = cat.next(entry.oid)
        if blob is None:
            if path is not None:
                reader.seen.add(path)
                unread.append(Unread(path, missing))
            continue
        if path is None:
            blob.drain()
        else:
            reader.read_file(entry.raw, path, blob, blob.left)
        cat.end_of_blob()


def read_commit(repo: str, sha: str, limits: Limits, rejected: list[Rejection], *,
                timeout: float = 600) -> tuple[list[ArchiveFile], list[Unread]]:
    """(files read, files whose blob is absent), both by path, of commit `sha` of the bare clone `repo`.

    Rejected members (symlinks, submodules, bad paths, the member that hit a cap) go to `rejected`.

    Caps act as for an archive: a file over max_file_bytes is hashed whole but keeps no bytes; hitting
    max_members or max_total_bytes stops the read (`too_many_members` / `bomb`, as iter_archive).
    """
    missing = missing_reason(repo, limits.max_file_bytes)
    reader = _Reader(limits, limits.max_total_bytes, rejected)  # git inflates objects itself: no ratio cap
    unread: list[Unread] = []
    with object_view(repo, sha) as env:
        entries = list_tree(env, sha, timeout)
        cat = _CatFile(env, [e.oid for e in entries if e.mode.startswith(b"100")], timeout)
        try:
            _walk(entries, cat, reader, unread, missing)
        except _Stop:
            pass
        finally:
            cat.close()
    return sorted(reader.files, key=lambda f: f.path), sorted(unread)
