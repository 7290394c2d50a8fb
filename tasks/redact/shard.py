"""One partition of the redact stage: data/filtered rows in, the same rows with secrets and personal data
replaced out, plus one findings row per replacement (type and position, never the value).

Every redacted text is scanned again: what the rescan still finds is counted (`residual`) and the
stage's gate requires none. A text longer than the scanner's window is scanned window by window, cut
after a newline, so nothing past the first window escapes.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.partitions import PartWriter, iter_batches
from tasks.governance.findings import TYPES, Finding
from tasks.governance.redact import redact
from tasks.governance.scan import ScanError, scan
from tasks.redact.config import Config

FINDINGS_SCHEMA = pa.schema([
    ("repo", pa.string()), ("path", pa.string()), ("type", pa.string()), ("start", pa.int64()),
    ("end", pa.int64()), ("detector", pa.string()),
])


def _windows(text: str, size: int) -> Iterable[tuple[int, str]]:
    """(offset, piece) covering `text` in pieces of at most `size` characters, cut after a newline."""
    start = 0
    while len(text) - start > size:
        cut = text.rfind("\n", start, start + size)
        end = cut + 1 if cut > start else start + size
        yield start, text[start:end]
        start = end
    yield start, text[start:]


def scan_all(text: str, lang: str | None, path: str | None, cfg: Config) -> list[Finding]:
    found: list[Finding] = []
    for offset, piece in _windows(text, cfg.pii.scan.max_text_chars):
        for f in scan(piece, lang, path, cfg.pii.scan):
            found.append(Finding(f.start + offset, f.end + offset, f.type, f.detector) if offset else f)
    return found


def redact_text(text: str, lang: str | None, path: str | None, cfg: Config) -> tuple[str, list[Finding], int]:
    """(redacted text, the findings replaced, what a rescan of the redacted text still finds)."""
    findings = scan_all(text, lang, path, cfg)
    if not findings:
        return text, [], 0
    new, _ = redact(text, findings, cfg.pii.redact)
    return new, findings, len(scan_all(new, lang, path, cfg))


def redact_partition(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Job body: one data/filtered partition -> data/redacted (same schema; `size` and `sha256` of the
    redacted text) and data/redact_findings."""
    started = time.perf_counter()
    schema = pq.read_schema(inputs[0])
    by_type: Counter[str] = Counter()
    by_detector: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    with PartWriter(outs["out"], schema) as out, PartWriter(outs["findings"], FINDINGS_SCHEMA) as found_out:
        for batch in iter_batches(inputs[0]):
            rows = batch.to_pylist()
            findings_rows: list[dict[str, Any]] = []
            for row in rows:
                content = row.get("content")
                if content is None:
                    continue
                counts["files"] += 1
                counts["chars"] += len(content)
                counts["bytes_in"] += int(row.get("size") or 0)
                counts["bytes_out"] += int(row.get("size") or 0)  # corrected below when redacted or dropped
                if not cfg.enabled:
                    continue
                try:
                    new, findings, residual = redact_text(content, row.get("lang"), row.get("path"), cfg)
                except ScanError:  # the file is kept out of the output? no: it cannot be vouched for, so dropped
                    counts["scan_errors"] += 1
                    counts["bytes_out"] -= int(row.get("size") or 0)
                    row.update(content=None, skip_reason="scan_error")
                    continue
                if not findings:
                    continue
                counts["files_redacted"] += 1
                counts["residual"] += residual
                for f in findings:
                    by_type[f.type] += 1
                    by_detector[f.detector] += 1
                    findings_rows.append({"repo": row["repo"], "path": row["path"], "type": f.type,
                                          "start": f.start, "end": f.end, "detector": f.detector})
                data = new.encode("utf-8", "surrogatepass")
                counts["bytes_out"] += len(data) - int(row.get("size") or 0)
                row.update(content=new, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            out.write(pa.Table.from_pylist(rows, schema=schema))
            found_out.write(pa.Table.from_pylist(findings_rows, schema=FINDINGS_SCHEMA))
    return {"files": counts["files"], "chars": counts["chars"], "files_redacted": counts["files_redacted"],
            "bytes_in": counts["bytes_in"], "bytes_out": counts["bytes_out"],
            "residual": counts["residual"], "scan_errors": counts["scan_errors"],
            "by_type": {t: by_type[t] for t in TYPES}, "by_detector": dict(sorted(by_detector.items())),
            "shard": Path(inputs[0]).name, "seconds": round(time.perf_counter() - started, 4)}


def aggregate(stats: list[dict[str, Any]], cfg: Config) -> dict[str, Any]:
    """metrics/redact.json: files scanned and redacted, findings per type and detector, the rescan's residue."""
    total: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    by_detector: Counter[str] = Counter()
    for s in stats:
        for key in ("files", "chars", "bytes_in", "bytes_out", "files_redacted", "residual", "scan_errors"):
            total[key] += s.get(key, 0)
        by_type.update(s.get("by_type", {}))
        by_detector.update(s.get("by_detector", {}))
    files = total["files"]
    return {
        "enabled": cfg.enabled,
        "files": files, "chars": total["chars"], "bytes_in": total["bytes_in"], "bytes_out": total["bytes_out"],
        "files_redacted": total["files_redacted"],
        "files_redacted_share": round(total["files_redacted"] / files, 6) if files else None,
        "findings": sum(by_type.values()), "by_type": {t: int(by_type[t]) for t in TYPES},
        "by_detector": dict(sorted(by_detector.items())),
        "residual": total["residual"], "scan_errors": total["scan_errors"],
        "types": list(cfg.pii.scan.types), "ip_scope": cfg.pii.scan.ip_scope,
        "ip_replacement": cfg.pii.redact.ip_replacement,
    }
