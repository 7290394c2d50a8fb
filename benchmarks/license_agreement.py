"""How often the licence found in a package's files agrees with the licence its registry declares.

    python -m benchmarks.license_agreement [--manifest tasks/crawl/default_manifest.yaml] [--json OUT]
    python -m benchmarks.license_agreement --git-manifest ../shared/corpora/github/manifest.yaml

Crawls each source with the crawl stage's own `crawl_source` (download cache `.cache/crawl`: a
rerun downloads nothing), then compares, for every package whose registry metadata declares a
licence (the rows' `license` column), the licence identified from its licence FILES only
(`detect_repo_license` on the licence files, no manifest, no registry) with the declared one
(`same_license`: same licence ids, a family name like "BSD License" matching any BSD variant), and
whether the files at least name every declared licence (`names_all_of`: the files may name more, e.g.
the second licence of a dual licensing that the registry field does not carry).
Packages without a licence file are counted apart: there the files cannot disagree or agree.
For git sources (no registry metadata) it lists what the full detection finds.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tasks.governance.licenses import detect_repo_license, is_license_file, names_a_license, names_all_of
from tasks.governance.licenses import normalize_expression
from tasks.governance.licenses import same_license


def _rows_files(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["path"], r["content"]) for r in rows if r.get("content") is not None]


def registry_license(res: dict[str, Any]) -> str | None:
    """The licence the registry (or the spec) declares. The crawl's rows carry the licence it DETECTED
    (`license` column, what the filter's policy reads); the declared one is kept in `res["license"]["declared"]`.
    Only a crawl result without that summary (older code) falls back to the rows."""
    if isinstance(res.get("license"), dict):
        return res["license"].get("declared")
    return next((r["license"] for r in res["rows"] if r.get("license")), None)


def compare_source(spec: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """One source: declared vs detected-from-files, plus the full detection."""
    from tasks.crawl import crawl_source

    res = crawl_source(spec, cfg, cfg.cache_dir)
    if res.get("error"):
        return {"repo": res["repo"], "error": res["error"]}
    files = _rows_files(res["rows"])
    declared = registry_license(res)
    from_files = detect_repo_license([(p, t) for p, t in files if is_license_file(p)], None)
    full = detect_repo_license(files, declared)
    declared_spdx = normalize_expression(declared)
    out = {"repo": res["repo"], "declared": declared, "declared_spdx": declared_spdx,
           "from_files": from_files.spdx, "detected": full.spdx, "confidence": full.confidence,
           "evidence": list(full.evidence), "has_license_file": any(is_license_file(p) for p, _ in files)}
    out["declares_a_license"] = names_a_license(declared_spdx)
    if out["declares_a_license"] and from_files.spdx:
        out["agree"] = same_license(from_files.spdx, declared_spdx)
        out["confirmed"] = names_all_of(from_files.spdx, declared_spdx)
    return out


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    compared = [r for r in results if "agree" in r]
    declared = [r for r in results if r.get("declares_a_license")]
    agree = sum(r["agree"] for r in compared)
    confirmed = sum(r["confirmed"] for r in compared)
    return {
        "sources": len(results), "errors": sum("error" in r for r in results), "declaring": len(declared),
        "declaring_without_license_text": sum(1 for r in declared if not r.get("from_files")),
        "compared": len(compared), "agree": agree,
        "agreement": agree / len(compared) if compared else None,
        "confirmed": confirmed, "confirmed_share": confirmed / len(compared) if compared else None,
        "disagreements": [{k: r[k] for k in ("repo", "declared", "declared_spdx", "from_files", "detected",
                                              "confirmed", "evidence")}
                          for r in compared if not r["agree"]],
        "no_license_text": [{k: r.get(k) for k in ("repo", "declared", "detected", "evidence")}
                            for r in declared if not r.get("from_files")],
        # a registry field that names no licence ("Dual License"): neither agreement nor disagreement
        "declaring_no_license": [{k: r.get(k) for k in ("repo", "declared", "from_files", "detected")}
                                 for r in results if r.get("declared_spdx") and not r.get("declares_a_license")],
    }


def _rebase(spec: dict[str, Any], base: str | None) -> dict[str, Any]:
    key = {"git": "url", "local": "path"}.get(spec["type"])
    if base and key and "://" not in spec[key] and not Path(spec[key]).is_absolute():
        return {**spec, key: str((Path(base) / spec[key]).resolve())}
    return spec


def main(argv: list[str] | None = None) -> int:
    from tasks.crawl import config_from_params
    from tasks.crawl.config import DEFAULT_MANIFEST, load_manifest

    ap = argparse.ArgumentParser(prog="python -m benchmarks.license_agreement", description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default=DEFAULT_MANIFEST)
    ap.add_argument("--cache-dir", default=".cache/crawl")
    ap.add_argument("--json", help="write the per-source results and the summary here")
    ap.add_argument("--url-base", help="directory that relative git/local source paths are relative to "
                                       "(the project root the manifest was written for)")
    args = ap.parse_args(argv)
    specs = [_rebase(s, args.url_base) for s in load_manifest(args.manifest)]
    cfg = config_from_params({"sources": [], "cache_dir": args.cache_dir})
    results = []
    for spec in specs:
        r = compare_source(spec, cfg)
        results.append(r)
        verdict = "error" if "error" in r else ("agree" if r.get("agree") else
                                                 "DISAGREE" if "agree" in r else "not compared")
        print(f"{r['repo']:40s} {verdict:12s} declared={r.get('declared')!r} files={r.get('from_files')!r} "
              f"detected={r.get('detected')!r}", file=sys.stderr)
    summary = summarise(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "results": results}, indent=1, sort_keys=True))
    print(json.dumps({k: v for k, v in summary.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
