"""One repository: parse its files, resolve dependencies, order them and cut samples.

Pure in-memory function over the repo's rows so it can be tested without Parquet. Every file ends in
exactly one sample; a file that cannot be parsed (too large, timeout, parser error, no grammar) keeps
no edges and becomes a single-file sample, with its reason counted. A statement that resolves to
such a file still counts as resolved (it is not external), but adds no edge.
"""
from __future__ import annotations

import math
import posixpath
from collections import Counter, defaultdict
from typing import Any

from tasks.order.config import Config
from tasks.order.extract import FileFacts, extract_tree
from tasks.order.graph import order_graph
from tasks.order.languages import REGEX_ONLY, family_of, grammar_key, load_language
from tasks.order.parsing import ParseFailure, parse
from tasks.order.regex_extract import REGEX_EXTRACTORS, extract_regex
from tasks.order.render import render_header, render_sample
from tasks.order.resolve import RepoIndex

_BUILD_FILES = ("go.mod", "Cargo.toml")
_META = ("repo", "source", "license", "version", "stars")


def new_stats() -> dict[str, Any]:
    """Empty per-shard counters (merged by `metrics.merge_stats`)."""
    return {
        "repos": 0, "files_in": 0, "files_no_content": 0, "files_duplicate_path": 0,
        "files_code": 0, "files_parsed": 0, "files_regex": 0, "files_too_large": 0,
        "files_syntax_errors": 0, "parse_failures": {}, "languages": {},
        "edges": 0, "edges_against_order": 0, "cycles_broken": 0, "components_with_cycles": 0,
        "samples": 0, "samples_from_split": 0, "files_per_sample": {},
        "sample_bytes_hist": {}, "sample_bytes_total": 0, "sample_bytes_max": 0,
    }


SIZE_BINS_PER_OCTAVE = 8  # sample sizes are counted in bins 2**(1/8) wide (quantiles within ~9%)


def size_bin(size: int) -> int:
    return int(math.floor(SIZE_BINS_PER_OCTAVE * math.log2(size + 1)))


def record_sample_size(stats: dict[str, Any], size: int) -> None:
    """Count a sample's size in a fixed log histogram: bounded stats whatever the corpus size."""
    key = str(size_bin(size))
    stats["sample_bytes_hist"][key] = stats["sample_bytes_hist"].get(key, 0) + 1
    stats["sample_bytes_total"] += size
    stats["sample_bytes_max"] = max(stats["sample_bytes_max"], size)


def _lang_stats(stats: dict[str, Any], label: str) -> dict[str, int]:
    return stats["languages"].setdefault(label, {"files": 0, "deps_found": 0, "deps_resolved": 0,
                                                 "deps_external": 0, "edges": 0})


def _facts_of(family: str, path: str, text: str, cfg: Config) -> tuple[FileFacts | None, str | None, bool]:
    """(facts, failure reason, used regex) for one code file."""
    key = grammar_key(family, path)
    if family in REGEX_ONLY or (load_language(key) is None and family in REGEX_EXTRACTORS):
        try:
            return extract_regex(family, text), None, True
        except Exception:  # noqa: BLE001 - a bad file must not stop the shard
            return None, "extract_error", True
    if load_language(key) is None:
        return None, "no_grammar", False
    source = text.encode("utf-8", "surrogatepass")
    try:
        tree = parse(key, source, cfg.parse_timeout_ms)
    except ParseFailure as exc:
        return None, exc.reason, False
    try:
        return extract_tree(key, tree, source), None, False
    except Exception:  # noqa: BLE001 - e.g. RecursionError on absurd nesting
        return None, "extract_error", False


def _split(order: list[int], sizes: list[int], limit: int | None) -> list[list[int]]:
    """Cut an ordered subgraph into consecutive chunks whose rendered text fits `limit` bytes.

    Dependency order is kept inside and across chunks; a single file bigger than the limit forms
    its own chunk (it is never truncated).
    """
    if limit is None:
        return [order]
    chunks: list[list[int]] = []
    current: list[int] = []
    used = 0
    for node in order:
        extra = sizes[node] + (1 if current else 0)
        if current and used + extra > limit:
            chunks.append(current)
            current, used, extra = [], 0, sizes[node]
        current.append(node)
        used += extra
    if current:
        chunks.append(current)
    return chunks


def order_repo(rows: list[dict[str, Any]], cfg: Config, stats: dict[str, Any],
               build_files: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Samples (data/ordered rows) of one repository's rows; counters are added to `stats`.

    `build_files` ({path: text}) adds go.mod / Cargo.toml files that are not among the rows.
    """
    stats["repos"] += 1
    stats["files_in"] += len(rows)
    files: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in sorted(rows, key=lambda r: (r["path"], r.get("content") or "")):
        if row.get("content") is None:
            stats["files_no_content"] += 1
        elif row["path"] in seen:
            stats["files_duplicate_path"] += 1
        else:
            seen.add(row["path"])
            files.append(row)
    if not files:
        return []
    meta = {key: files[0].get(key) for key in _META}
    paths = [f["path"] for f in files]
    langs = [f.get("lang") for f in files]
    families = {f["path"]: family_of(f.get("lang"), f["path"]) for f in files}
    labels = [lang or families[path] or "unknown" for path, lang in zip(paths, langs)]

    facts: dict[str, FileFacts] = {}
    excluded: set[int] = set()
    failures: Counter[str] = Counter()
    for i, row in enumerate(files):
        family = families[paths[i]]
        if family is None:
            continue
        stats["files_code"] += 1
        _lang_stats(stats, labels[i])["files"] += 1
        if len(row["content"].encode("utf-8", "surrogatepass")) > cfg.max_parse_bytes:
            stats["files_too_large"] += 1
            excluded.add(i)
            continue
        got, reason, regex = _facts_of(family, paths[i], row["content"], cfg)
        if got is None:
            failures[reason or "unknown"] += 1
            excluded.add(i)
            continue
        facts[paths[i]] = got
        stats["files_regex" if regex else "files_parsed"] += 1
        stats["files_syntax_errors"] += got.syntax_error
    for reason, count in failures.items():
        stats["parse_failures"][reason] = stats["parse_failures"].get(reason, 0) + count

    texts = dict(sorted((build_files or {}).items()))
    texts.update({p: f["content"] for p, f in zip(paths, files) if posixpath.basename(p) in _BUILD_FILES})
    index = RepoIndex(paths, families, facts, texts)
    position = {p: i for i, p in enumerate(paths)}
    edges: set[tuple[int, int]] = set()
    for path in sorted(facts):
        i = position[path]
        lang = _lang_stats(stats, labels[i])
        for dep in facts[path].deps:
            targets = index.resolve(path, families[path], dep)
            lang["deps_found"] += 1
            if targets:
                lang["deps_resolved"] += 1
            else:
                lang["deps_external"] += 1
            for target in targets:
                j = position[target]
                if j != i and j not in excluded:
                    edges.add((j, i))
    per_lang_edges: Counter[str] = Counter(labels[i] for _, i in edges)
    for label, count in per_lang_edges.items():
        _lang_stats(stats, label)["edges"] += count
    stats["edges"] += len(edges)

    ordering = order_graph(len(files), sorted(edges))
    stats["cycles_broken"] += ordering.cycles_broken
    stats["components_with_cycles"] += ordering.components_with_cycles
    rank = {node: r for r, node in enumerate(n for comp in ordering.components for n in comp)}
    stats["edges_against_order"] += sum(rank[a] > rank[b] for a, b in edges)

    contents = [f["content"] for f in files]
    sizes = [len(render_header(p, l).encode("utf-8")) + 1 + len(c.encode("utf-8", "surrogatepass"))
             for p, l, c in zip(paths, langs, contents)]
    samples: list[dict[str, Any]] = []
    for component in ordering.components:
        chunks = _split(component, sizes, cfg.max_sample_bytes)
        stats["samples_from_split"] += len(chunks) - 1
        for chunk in chunks:
            s_files = [paths[i] for i in chunk]
            s_langs = [langs[i] for i in chunk]
            s_contents = [contents[i] for i in chunk]
            text = render_sample(s_files, s_langs, s_contents)
            size = len(text.encode("utf-8", "surrogatepass"))
            samples.append({**meta, "sample": len(samples), "files": s_files, "langs": s_langs,
                            "contents": s_contents, "text": text, "n_files": len(chunk), "size": size})
            key = str(len(chunk))
            stats["files_per_sample"][key] = stats["files_per_sample"].get(key, 0) + 1
            record_sample_size(stats, size)
    stats["samples"] += len(samples)
    return samples


def group_by_repo(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by repo id (insertion order irrelevant: callers iterate sorted keys)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["repo"]].append(row)
    return groups
