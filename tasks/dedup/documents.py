"""What near-dedup compares: a repository (DeepSeek-Coder) or a single file (OpenCoder), as a document.

A document is built from the file contents of a data/ordered partition, in sample order and each
sample's file order, without the files exact dedup dropped. Signatures (partition jobs) and the
exact Jaccard of verification (recomputed for the candidates only) read documents through this one
iterator, so both always see the same text.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.partitions import iter_repo_tables

GRANULARITIES = ("repo", "file")
DocKey = tuple[str, int | None, str | None]   # (repo, sample, path); sample and path None for a repo
FileKey = tuple[str, int, str]                 # (repo, sample, path) of one file


@dataclass
class Document:
    key: DocKey
    stars: int | None
    size: int                 # UTF-8 bytes of the document's contents
    repo_size: int            # UTF-8 bytes of the repository's kept contents (its rank when files tie)
    blobs: list[bytes]        # contents in order; shingles run across them as across one text
    n_samples: int


def _columns(path: str | os.PathLike) -> list[str]:
    names = pq.read_schema(path).names
    for required in ("repo", "sample", "files", "contents"):
        if required not in names:
            raise ValueError(f"{path}: column {required!r} missing (data/ordered contract)")
    return [c for c in ("repo", "sample", "stars", "files", "contents") if c in names]


def iter_documents(ordered_path: str | os.PathLike, granularity: str, excluded: frozenset[FileKey] = frozenset(),
                   repos: Iterable[str] | None = None) -> Iterator[Document | tuple[str, int]]:
    """Documents of one data/ordered partition, in partition order (repo, then sample, then file).

    Rows without a repo id yield ("rows_without_repo", n) so callers can count them. `repos` limits the
    read to those repositories (a Parquet filter: verification reads only its candidates)."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"dedup granularity must be one of {GRANULARITIES}, got {granularity!r}")
    cols = _columns(ordered_path)
    if repos is not None:
        wanted = sorted(set(repos))
        if not wanted:
            return
        found = pq.read_table(ordered_path, columns=cols, filters=[("repo", "in", wanted)])
        tables = (found.filter(pc.equal(found.column("repo"), r)) for r in wanted)
    else:
        tables = iter_repo_tables(ordered_path, cols)
    for table in tables:
        if not table.num_rows:
            continue
        repo = table.column("repo")[0].as_py()
        if repo is None:
            yield ("rows_without_repo", table.num_rows)
            continue
        table = table.take(pc.sort_indices(table, sort_keys=[("sample", "ascending")]))
        stars = [s for s in table.column("stars").to_pylist() if s is not None] if "stars" in cols else []
        best_stars = max(stars) if stars else None
        files: list[tuple[int, str, bytes]] = []
        for sample, paths, contents in zip(table.column("sample").to_pylist(), table.column("files").to_pylist(),
                                           table.column("contents").to_pylist()):
            for path, content in zip(paths or [], contents or []):
                if content is None or (repo, sample, path) in excluded:
                    continue
                files.append((sample, path, content.encode("utf-8", "surrogatepass")))
        repo_size = sum(len(b) for _, _, b in files)
        if granularity == "repo":
            yield Document((repo, None, None), best_stars, repo_size, repo_size, [b for _, _, b in files],
                           table.num_rows)
        else:
            for sample, path, blob in files:
                yield Document((repo, sample, path), best_stars, len(blob), repo_size, [blob], 1)
