"""Where documents come from and which mixture source each belongs to.

- `code` / `code_text`: repo-level samples of data/clean. A sample is `code_text` (code-related
  English: READMEs, docs) when at least half of its bytes are in `code_text_languages`
  (Markdown, reStructuredText, ...), else `code`; decided per sample from its `langs`/`contents`.
- `text`: natural-language corpora the user lists in `pack.text_sources` (JSONL or Parquet with a text
  field). Each row is a document with id `text/<name>#<row>`, which also serves as its "repo" for the
  train/val split.

Readers yield plain dicts in file order, batch by batch (bounded memory), with a `skip` reason instead
of raising on a bad row.
"""
from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.pack.config import SOURCES, TextSource

SOURCE_ID = {name: i for i, name in enumerate(SOURCES)}


@dataclass
class Doc:
    doc_id: str          # unique: "<repo>#<sample>" or "text/<name>#<row>"
    repo: str            # split unit
    sample: int | str    # with repo, seeds the FIM stream
    text: str | None
    source: str
    main_lang: str | None = None
    skip: str | None = None


def main_language(by_lang: dict[str, int]) -> str | None:
    """The language with most bytes in a sample (ties: alphabetical)."""
    return min(by_lang, key=lambda k: (-by_lang[k], k)) if by_lang else None


def classify(by_lang: dict[str, int], code_text_langs: frozenset[str]) -> str:
    total = sum(by_lang.values())
    doc_bytes = sum(v for k, v in by_lang.items() if k.lower() in code_text_langs)
    return "code_text" if total and 2 * doc_bytes >= total else "code"


def _bytes_by_lang(batch: pa.RecordBatch) -> list[dict[str, int]]:
    """Per row, UTF-8 bytes per file language, computed in Arrow (file contents never become
    Python strings)."""
    n = batch.num_rows
    names = batch.schema.names
    if "langs" not in names or "contents" not in names:
        return [{} for _ in range(n)]
    langs, contents = batch.column(names.index("langs")), batch.column(names.index("contents"))
    sizes = pc.fill_null(pc.binary_length(pc.list_flatten(contents)), 0).to_numpy(zero_copy_only=False)
    flat_langs = pc.list_flatten(langs).to_pylist()
    rows = pc.list_parent_indices(contents).to_numpy(zero_copy_only=False)
    lang_rows = pc.list_parent_indices(langs).to_numpy(zero_copy_only=False)
    out: list[dict[str, int]] = [{} for _ in range(n)]
    if len(flat_langs) != len(sizes) or not np.array_equal(rows, lang_rows):
        return out  # langs and contents disagree: unknown, counted as code
    for r, lang, size in zip(rows.tolist(), flat_langs, sizes.tolist()):
        if size:
            d = out[r]
            key = lang or "unknown"
            d[key] = d.get(key, 0) + size
    return out


def read_clean_shard(path: str, code_text_languages: tuple[str, ...], batch_size: int) -> Iterator[list[Doc]]:
    ct = frozenset(x.lower() for x in code_text_languages)
    pf = pq.ParquetFile(path)
    cols = [c for c in ("repo", "sample", "text", "langs", "contents") if c in pf.schema_arrow.names]
    for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
        by_lang = _bytes_by_lang(batch)
        repos = batch.column(cols.index("repo")).to_pylist()
        samples = batch.column(cols.index("sample")).to_pylist()
        texts = batch.column(cols.index("text")).to_pylist()
        docs = []
        for repo, sample, text, bl in zip(repos, samples, texts, by_lang):
            doc = Doc(doc_id=f"{repo}#{sample}", repo=repo or "", sample=int(sample or 0), text=text,
                      source=classify(bl, ct), main_lang=main_language(bl))
            if not repo:
                doc.skip = "missing_repo"
            elif not text:
                doc.skip = "empty_text"
            docs.append(doc)
        yield docs


def _text_doc(src: TextSource, row: int, value: object) -> Doc:
    doc_id = f"text/{src.name}#{row}"
    doc = Doc(doc_id=doc_id, repo=doc_id, sample=row, text=None, source="text")
    if value is None:
        doc.skip = "missing_field"
    elif not isinstance(value, str):
        doc.skip = "field_not_string"
    elif not value:
        doc.skip = "empty_text"
    else:
        try:
            value.encode("utf-8")
            doc.text = value
        except UnicodeEncodeError:
            doc.skip = "invalid_unicode"  # lone surrogates from a JSON \ud800 escape
    return doc


def read_text_source(src: TextSource, batch_size: int) -> Iterator[list[Doc]]:
    if src.path.endswith(".parquet"):
        pf = pq.ParquetFile(src.path)
        if src.field not in pf.schema_arrow.names:
            raise ValueError(f"{src.path}: no column {src.field!r}")
        row = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=[src.field]):
            values = batch.column(0).to_pylist()
            yield [_text_doc(src, row + i, v) for i, v in enumerate(values)]
            row += len(values)
        return
    opener = gzip.open if src.path.endswith(".gz") else open
    with opener(src.path, "rb") as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n")
        docs: list[Doc] = []
        for row, line in enumerate(fh):
            if not line.strip():
                doc = _text_doc(src, row, None); doc.skip = "blank_line"
            else:
                try:
                    obj = json.loads(line)
                    doc = _text_doc(src, row, obj.get(src.field) if isinstance(obj, dict) else None)
                except json.JSONDecodeError:
                    doc = _text_doc(src, row, None); doc.skip = "invalid_json"
            docs.append(doc)
            if len(docs) >= batch_size:
                yield docs
                docs = []
        if docs:
            yield docs
