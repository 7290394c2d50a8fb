"""Seed snippets (Magicoder §2.1): 1 to 15 consecutive lines of a file of the clean corpus.

Which files: for every language with a quota, the files of `data/clean` in that language with the
smallest `stable_hash64(seed, lang, repo, path)` - a uniform draw that does not depend on shard
count, shard order or worker count, and that a larger quota only extends. Which lines: a count
drawn uniformly in [min_lines, max_lines] and a start drawn uniformly among the positions where that
many lines fit, from an RNG seeded by (seed, repo, path). A file whose drawn lines are all blank is
skipped. The corpus is streamed one shard at a time; only the current best candidates per language
are held (a bounded heap), so a 40K quota does not load the corpus into memory.
"""
from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from tasks.common.hashing import sha256_hex, stable_hash64
from tasks.common.io import list_shards, read_parquet

CLEAN_COLUMNS = ["repo", "files", "langs", "contents"]


@dataclass(frozen=True, order=True)
class Seed:
    """One snippet and where it came from (lines are 1-based, inclusive)."""

    lang: str
    repo: str
    path: str
    start_line: int
    end_line: int
    text: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.text.encode("utf-8", "surrogatepass"))

    @property
    def id(self) -> str:
        """The dataset row id: sha256 of language, provenance and snippet (NUL-separated)."""
        parts = [self.lang, self.repo, self.path, str(self.start_line), str(self.end_line), self.text]
        return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()

    def provenance(self) -> dict[str, Any]:
        return {"repo": self.repo, "path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "sha256": self.sha256, "text": self.text}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_lines(content: str) -> list[str]:
    """Lines as an editor numbers them ("\\n" separated, no phantom line after a final newline)."""
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def draw_snippet(content: str, lang: str, repo: str, path: str, seed: int, min_lines: int,
                 max_lines: int) -> Seed | None:
    """The snippet of one file, or None when the file is empty or the drawn lines are blank."""
    lines = file_lines(content)
    if not lines:
        return None
    rng = random.Random(stable_hash64("oss_instruct.snippet", seed, repo, path))
    n = min(rng.randint(min_lines, max_lines), len(lines))
    start = rng.randint(0, len(lines) - n)
    text = "\n".join(lines[start:start + n])
    if not text.strip():
        return None
    return Seed(lang, repo, path, start + 1, start + n, text)


def _files(shards: Iterable[Path], langs: set[str]) -> Iterator[tuple[str, str, str, str]]:
    """(lang, repo, path, content) of every file in a quota language, shard by shard."""
    for shard in shards:
        table = read_parquet(shard, columns=CLEAN_COLUMNS)
        for repo, files, file_langs, contents in zip(*(table.column(c).to_pylist() for c in CLEAN_COLUMNS)):
            for path, lang, content in zip(files or [], file_langs or [], contents or []):
                if lang in langs and isinstance(content, str) and repo and path:
                    yield lang, repo, path, content


def draw_seeds(clean_dir: str | Path, quotas: Iterable[tuple[str, int]], seed: int, min_lines: int = 1,
               max_lines: int = 15) -> tuple[list[Seed], dict[str, dict[str, int]]]:
    """Seeds for every language quota, sorted by (lang, repo, path); plus per-language counts.

    Counts: `quota`, `files` (candidate files seen), `drawn` (seeds returned, < quota when the
    corpus has too few usable files of that language).
    """
    quota = {lang: n for lang, n in quotas if n > 0}
    heaps: dict[str, list[tuple[int, str, str, Seed]]] = {lang: [] for lang in quota}
    files = {lang: 0 for lang in quota}
    for lang, repo, path, content in _files(list_shards(clean_dir), set(quota)):
        files[lang] += 1
        rank = stable_hash64("oss_instruct.rank", seed, lang, repo, path)
        heap = heaps[lang]
        # a max-heap on rank (negated): its top is the worst of the current best `quota` candidates
        if len(heap) >= quota[lang] and -heap[0][0] < rank:
            continue
        snippet = draw_snippet(content, lang, repo, path, seed, min_lines, max_lines)
        if snippet is None:
            continue
        entry = (-rank, repo, path, snippet)
        if len(heap) < quota[lang]:
            heapq.heappush(heap, entry)
        else:
            heapq.heappushpop(heap, entry)
    seeds = sorted((e[3] for heap in heaps.values() for e in heap), key=lambda s: (s.lang, s.repo, s.path))
    drawn = {lang: len(heap) for lang, heap in heaps.items()}
    counts = {lang: {"quota": n, "files": files.get(lang, 0), "drawn": drawn.get(lang, 0)}
              for lang, n in sorted(dict(quotas).items())}
    return seeds, counts
