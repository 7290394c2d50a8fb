"""Read tar (plain/gz/bz2/xz) and zip archives, and local directories, without writing to disk.

Archives from registries are untrusted input. Nothing is ever extracted to the file system, so path
tricks cannot overwrite anything; they are still rejected (and recorded) because a path like
`../x` or a symlink has no meaning as a corpus file. Size, member-count and compression-ratio caps
stop decompression bombs before they exhaust memory: the archive is read no further and the member
that tripped the cap is recorded as `bomb` (or `too_many_members`).

Corruption (truncated stream, bad CRC, not an archive) raises ArchiveError: the caller quarantines
the whole package rather than keep a silently incomplete one.
"""
from __future__ import annotations

import hashlib
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

from tasks.crawl.content import SNIFF_BYTES

_CHUNK = 1 << 16
_TAR_HEADER = 512
_DRIVE = re.compile(r"^[A-Za-z]:")
SKIP_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class Limits:
    """Caps for one archive; `ratio_floor_bytes` keeps tiny, very compressible archives legal."""
    max_members: int = 20_000
    max_file_bytes: int = 1 << 20
    max_total_bytes: int = 256 << 20
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 4 << 20


class ArchiveFile(NamedTuple):
    path: str  # relative posix path, top directory stripped where asked
    data: bytes | None  # None when over max_file_bytes
    size: int
    sha256: str
    head: bytes  # first SNIFF_BYTES, for binary sniffing when data is None


class Rejection(NamedTuple):
    member: str
    reason: str


class ArchiveError(Exception):
    """The archive cannot be read (corrupt, truncated, unknown format)."""


class _Stop(Exception):
    """Internal: a cap was hit, stop reading the archive."""


def clean_member_name(raw: str) -> tuple[str | None, str | None]:
    """(normalised relative posix path, None) or (None, rejection reason) for an archive member name."""
    if not raw or any(c in raw for c in "\x00\n\r"):
        return None, "bad_name"
    try:
        raw.encode("utf-8")  # tarfile keeps undecodable bytes as surrogates
    except UnicodeEncodeError:
        return None, "bad_name"
    if "\\" in raw:
        return None, "bad_name"
    if raw.startswith("/") or _DRIVE.match(raw):
        return None, "absolute_path"
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None, "traversal"
    if not parts:
        return None, "bad_name"
    return "/".join(parts), None


class _Reader:
    """State shared by the archive walkers: counts, budgets, the files kept and the rejections."""

    def __init__(self, limits: Limits, compressed_size: int, rejected: list[Rejection]):
        self.limits = limits
        self.compressed = max(compressed_size, 1)
        self.rejected = rejected
        self.members = 0
        self.total = 0
        self.files: list[ArchiveFile] = []
        self.seen: set[str] = set()

    def count_member(self, raw: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            self.rejected.append(Rejection(raw, "too_many_members"))
            raise _Stop

    def reserve(self, raw: str, declared: int) -> None:
        """Refuse a member whose declared size would take the archive over the total cap."""
        if self.total + declared > self.limits.max_total_bytes:
            self.rejected.append(Rejection(raw, "bomb"))
            raise _Stop

    def account(self, raw: str, n: int) -> None:
        self.total += n
        if self.total > self.limits.max_total_bytes or (
            self.total > self.limits.ratio_floor_bytes and self.total / self.compressed > self.limits.max_ratio
        ):
            self.rejected.append(Rejection(raw, "bomb"))
            raise _Stop

    def accept_name(self, raw: str) -> str | None:
        path, reason = clean_member_name(raw)
        if reason:
            self.rejected.append(Rejection(raw, reason))
            return None
        if path in self.seen:
            self.rejected.append(Rejection(raw, "duplicate"))
            return None
        return path

    def read_file(self, raw: str, path: str, fh: IO[bytes], declared: int) -> None:
        """Stream one member: hash all of it, keep its bytes only when within max_file_bytes."""
        self.reserve(raw, declared)
        keep = declared <= self.limits.max_file_bytes
        hasher = hashlib.sha256()
        chunks: list[bytes] = []
        head = b""
        size = 0
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > declared:  # a header that lies about the size is not to be trusted further
                self.rejected.append(Rejection(raw, "bomb"))
                raise _Stop
            self.account(raw, len(chunk))
            hasher.update(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
            if keep:
                chunks.append(chunk)
        data = b"".join(chunks) if keep else None
        self.seen.add(path)
        self.files.append(ArchiveFile(path, data, size, hasher.hexdigest(), head))


def _walk_tar(data: bytes, reader: _Reader) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as tf:
        for member in tf:
            raw = member.name
            reader.count_member(raw)
            reader.account(raw, _TAR_HEADER)
            if member.isdir():
                continue
            if member.issym():
                reader.rejected.append(Rejection(raw, "symlink"))
                continue
            if member.islnk():
                reader.rejected.append(Rejection(raw, "hardlink"))
                continue
            if member.ischr() or member.isblk() or member.isfifo():
                reader.rejected.append(Rejection(raw, "device"))
                continue
            if not member.isreg():
                reader.rejected.append(Rejection(raw, "unsupported_type"))
                continue
            path = reader.accept_name(raw)
            if path is None:
                continue
            fh = tf.extractfile(member)
            if fh is None:
                reader.rejected.append(Rejection(raw, "unsupported_type"))
                continue
            reader.read_file(raw, path, fh, member.size)


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member name as UTF-8: names without the UTF-8 flag were decoded as cp437 by zipfile."""
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeError:
        return name.encode("cp437").decode("utf-8", errors="surrogateescape")  # -> bad_name


def _walk_zip(data: bytes, reader: _Reader) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            raw = _zip_name(info)
            reader.count_member(raw)
            mode = (info.external_attr >> 16) & 0o170000
            if info.is_dir() or mode == stat.S_IFDIR:
                continue
            if mode == stat.S_IFLNK:
                reader.rejected.append(Rejection(raw, "symlink"))
                continue
            if mode in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
                reader.rejected.append(Rejection(raw, "device"))
                continue
            if info.flag_bits & 0x1:
                reader.rejected.append(Rejection(raw, "encrypted"))
                continue
            path = reader.accept_name(raw)
            if path is None:
                continue
            with zf.open(info) as fh:
                reader.read_file(raw, path, fh, info.file_size)


def archive_format(data: bytes) -> str:
    """'zip' or 'tar' (tarfile detects gz/bz2/xz itself); ArchiveError for anything else."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if len(data) >= 262 and data[257:262] == b"ustar":
        return "tar"
    if len(data) >= 1024 and data[:512] == bytes(512):  # an empty tar is all zero blocks
        return "tar"
    raise ArchiveError("unknown archive format")


def _strip_top(files: list[ArchiveFile]) -> list[ArchiveFile]:
    """Drop the single top-level directory (sdist `name-1.0/`, npm `package/`) when all share one."""
    if not files:
        return files
    tops = {f.path.split("/", 1)[0] for f in files}
    if len(tops) != 1 or any("/" not in f.path for f in files):
        return files
    return [f._replace(path=f.path.split("/", 1)[1]) for f in files]


def iter_archive(data: bytes, limits: Limits, rejected: list[Rejection], *,
                 strip_top: bool = True) -> Iterator[ArchiveFile]:
    """Yield the regular files of an in-memory archive; rejected members are appended to `rejected`.

    The archive is read once (stream mode for tar); files are yielded after the walk because the
    top directory can only be stripped once every name is known. Memory is bounded by the caps.
    """
    kind = archive_format(data)
    reader = _Reader(limits, len(data), rejected)
    try:
        (_walk_zip if kind == "zip" else _walk_tar)(data, reader)
    except _Stop:
        pass
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
            ValueError, NotImplementedError, RuntimeError) as exc:  # corrupt/unsupported archives
        raise ArchiveError(f"{kind}: {type(exc).__name__}: {exc}") from exc
    files = _strip_top(reader.files) if strip_top else reader.files
    yield from sorted(files, key=lambda f: f.path)


def iter_directory(root: str, limits: Limits, rejected: list[Rejection]) -> Iterator[ArchiveFile]:
    """Yield the regular files under `root` in path order, never following symlinks.

    Symlinks (to files or directories) and special files are recorded as rejected; VCS metadata
    directories are skipped, as a hosted repository snapshot would not contain them.
    """
    reader = _Reader(limits, 1, rejected)
    reader.compressed = limits.max_total_bytes  # no compression: the ratio cap cannot apply
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise ArchiveError(f"not a directory: {root}")
    try:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            rel_dir = os.path.relpath(dirpath, root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            kept_dirs = []
            for d in sorted(dirnames):
                if d in SKIP_DIRS:
                    continue
                if os.path.islink(os.path.join(dirpath, d)):
                    reader.rejected.append(Rejection(rel_dir + d, "symlink"))
                    continue
                kept_dirs.append(d)
            dirnames[:] = kept_dirs
            for name in sorted(filenames):
                raw = rel_dir + name
                reader.count_member(raw)
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    reader.rejected.append(Rejection(raw, "symlink"))
                    continue
                if not stat.S_ISREG(st.st_mode):
                    reader.rejected.append(Rejection(raw, "device"))
                    continue
                path = reader.accept_name(raw)
                if path is None:
                    continue
                with open(full, "rb") as fh:
                    reader.read_file(raw, path, fh, st.st_size)
    except _Stop:
        pass
    yield from sorted(reader.files, key=lambda f: f.path)
