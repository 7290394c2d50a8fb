from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile

import pytest
from crawl_testutil import make_tar

from tasks.crawl.extract import ArchiveError, Limits, Rejection, clean_member_name, iter_archive, iter_directory

LIMITS = Limits(max_members=100, max_file_bytes=1000, max_total_bytes=100_000, max_ratio=50,
                ratio_floor_bytes=10_000)


def run(data: bytes, limits: Limits = LIMITS, **kw):
    rejected: list[Rejection] = []
    files = list(iter_archive(data, limits, rejected, **kw))
    return {f.path: f for f in files}, {r.member: r.reason for r in rejected}


def _tar_with(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, encoding="utf-8", errors="surrogateescape") as tf:
        for entry in entries:
            if isinstance(entry, tuple):
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tf.addfile(info, io.BytesIO(entry[1]))
            else:
                tf.addfile(entry)
    return buf.getvalue()


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_regular_files_all_compressions_and_top_dir_stripped(mode: str):
    data = make_tar({"pkg-1.0/setup.py": b"print(1)\n", "pkg-1.0/src/m.c": b"int x;\n"}, mode=mode)
    files, rejected = run(data)
    assert sorted(files) == ["setup.py", "src/m.c"] and rejected == {}
    f = files["src/m.c"]
    assert f.data == b"int x;\n" and f.size == 7 and f.sha256 == hashlib.sha256(b"int x;\n").hexdigest()


def test_top_dir_kept_when_names_do_not_share_one_or_when_asked():
    files, _ = run(make_tar({"a/x.py": b"1", "b/y.py": b"2"}))
    assert sorted(files) == ["a/x.py", "b/y.py"]
    files, _ = run(make_tar({"package/x.js": b"1", "package/lib/y.js": b"2"}), strip_top=False)
    assert sorted(files) == ["package/lib/y.js", "package/x.js"]
    files, _ = run(make_tar({"top/x.py": b"1", "README": b"2"}))
    assert sorted(files) == ["README", "top/x.py"]


def test_malicious_tar_members_are_rejected_with_reasons():
    fifo = _special("pkg/fifo", tarfile.FIFOTYPE)
    chardev = _special("pkg/tty", tarfile.CHRTYPE)
    data = _tar_with([
        ("pkg/ok.py", b"x = 1\n"),
        ("/etc/passwd", b"root"),
        ("pkg/../../evil.sh", b"rm -rf /"),
        ("../up.txt", b"u"),
        _special("pkg/link", tarfile.SYMTYPE, "/etc/shadow"),
        _special("pkg/hard", tarfile.LNKTYPE, "pkg/ok.py"),
        fifo,
        chardev,
        ("pkg/new\nline.py", b"n"),
        ("pkg/bad\udcff.py", b"b"),  # the raw byte 0xff: not UTF-8
        ("pkg/ok.py", b"x = 2\n"),  # second copy of a name
        ("C:/windows/x.txt", b"w"),
    ])
    files, rejected = run(data)
    assert list(files) == ["ok.py"] and files["ok.py"].data == b"x = 1\n"  # top dir stripped
    assert rejected == {
        "/etc/passwd": "absolute_path",
        "pkg/../../evil.sh": "traversal",
        "../up.txt": "traversal",
        "pkg/link": "symlink",
        "pkg/hard": "hardlink",
        "pkg/fifo": "device",
        "pkg/tty": "device",
        "pkg/new\nline.py": "bad_name",
        "pkg/bad\udcff.py": "bad_name",
        "pkg/ok.py": "duplicate",
        "C:/windows/x.txt": "absolute_path",
    }


def test_too_large_file_keeps_a_row_without_content():
    big = b"y" * 5000
    files, rejected = run(make_tar({"p/big.txt": big, "p/small.txt": b"s"}))
    assert rejected == {}
    assert files["big.txt"].data is None and files["big.txt"].size == 5000
    assert files["big.txt"].sha256 == hashlib.sha256(big).hexdigest()
    assert files["big.txt"].head == big[:8192]
    assert files["small.txt"].data == b"s"


def test_gzip_bomb_stops_on_ratio():
    data = make_tar({"p/zeros.bin": bytes(60_000), "p/after.txt": b"never read"})
    assert len(data) * LIMITS.max_ratio < 60_000  # it really is that compressible
    files, rejected = run(data)
    assert rejected == {"p/zeros.bin": "bomb"} and files == {}


def test_small_compressible_archive_is_not_a_bomb():
    files, rejected = run(make_tar({"p/zeros.txt": bytes(900)}))  # ratio is high but below the floor
    assert rejected == {} and "zeros.txt" in files


def test_total_size_cap_stops_reading():
    limits = Limits(max_members=100, max_file_bytes=100_000, max_total_bytes=30_000, max_ratio=1e9)
    payload = {f"p/f{i}.txt": os.urandom(8000) for i in range(6)}
    files, rejected = run(make_tar(payload), limits)
    assert len(files) == 3 and list(rejected.values()) == ["bomb"]


def test_member_count_cap():
    limits = Limits(max_members=5, max_file_bytes=1000, max_total_bytes=10**6, max_ratio=1e9)
    files, rejected = run(make_tar({f"p/{i:02d}.py": b"1" for i in range(9)}), limits)
    assert len(files) == 5 and rejected == {"p/05.py": "too_many_members"}


def test_corrupt_or_unknown_archives_raise():
    data = make_tar({"p/a.py": os.urandom(5000)})
    with pytest.raises(ArchiveError):
        run(data[: len(data) // 2])
    with pytest.raises(ArchiveError):
        run(b"this is not an archive at all")


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def _zinfo(name: str, mode: int = 0o100644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _mark_encrypted(data: bytes, name: str) -> bytes:
    """Set the 'encrypted' flag of one member in its local header and central directory entry
    (zipfile cannot write encrypted members)."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    buf[info.header_offset + 6] |= 0x1
    pos = data.find(name.encode(), data.index(b"PK\x01\x02"))  # the name follows a 46-byte header
    buf[pos - 46 + 8] |= 0x1
    return bytes(buf)


def test_zip_regular_and_malicious_members():
    data = _zip([
        (_zinfo("proj-2.0/a.py"), b"a = 1\n"),
        (_zinfo("proj-2.0/sub/"), b""),
        (_zinfo("proj-2.0/link", stat.S_IFLNK | 0o777), b"/etc/passwd"),
        (_zinfo("/abs.txt"), b"x"),
        (_zinfo("proj-2.0/../../../tmp/x"), b"x"),
        (_zinfo("proj-2.0/fifo", stat.S_IFIFO | 0o644), b""),
        (_zinfo("proj-2.0/secret.txt"), b"encrypted?"),
        (_zinfo("proj-2.0/line\nbreak.txt"), b"x"),
        (_zinfo("proj-2.0/big.txt"), b"z" * 2000),
        (_zinfo("proj-2.0/héllo.py"), b"# utf8 name\n"),
    ])
    files, rejected = run(_mark_encrypted(data, "proj-2.0/secret.txt"))
    assert sorted(files) == ["a.py", "big.txt", "héllo.py"]
    assert files["a.py"].data == b"a = 1\n" and files["big.txt"].data is None
    assert rejected == {"proj-2.0/link": "symlink", "/abs.txt": "absolute_path",
                        "proj-2.0/../../../tmp/x": "traversal", "proj-2.0/fifo": "device",
                        "proj-2.0/secret.txt": "encrypted", "proj-2.0/line\nbreak.txt": "bad_name"}


def test_zip_name_that_is_not_utf8_is_rejected():
    data = _zip([(_zinfo("p/cafX.txt"), b"1"), (_zinfo("p/ok.txt"), b"2")])
    data = data.replace(b"p/cafX.txt", b"p/caf\xff.txt")  # local header and central directory
    files, rejected = run(data)
    assert list(files) == ["ok.txt"]
    assert list(rejected.values()) == ["bad_name"]


def test_zip_bomb_stops_on_ratio():
    data = _zip([(_zinfo("p/z1"), bytes(40_000)), (_zinfo("p/z2"), bytes(40_000))])
    files, rejected = run(data)
    assert "bomb" in rejected.values() and len(files) <= 1


def test_clean_member_name_normalises_harmless_forms():
    assert clean_member_name("./a//b/./c.py") == ("a/b/c.py", None)
    assert clean_member_name("a\\b.py") == (None, "bad_name")
    assert clean_member_name("a/\x00b") == (None, "bad_name")


def test_directory_walk_skips_links_specials_and_vcs(tmp_path):
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "m.py").write_text("import os\n")
    (root / "big.bin").write_bytes(b"\x00" * 3000)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    os.mkfifo(root / "pipe")
    rejected: list[Rejection] = []
    files = {f.path: f for f in iter_directory(str(root), LIMITS, rejected)}
    assert sorted(files) == ["big.bin", "src/m.py"]
    assert files["big.bin"].data is None and files["big.bin"].size == 3000
    assert sorted(rejected) == [Rejection("link.txt", "symlink"), Rejection("linkdir", "symlink"),
                                Rejection("pipe", "device")]
