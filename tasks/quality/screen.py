"""Screening one file: contamination, syntax, heuristics, learned score - first failing check wins.

Order: contamination first (so every contaminated file is counted as such, whatever else is wrong
with it), then syntax (tree-sitter share, Python compile), then the readability heuristics, then the
optional scorer. The tree-sitter tree is parsed once and shared by the syntax and structure rules
(C/C++ files over `syntax.reparse_share` twice, keeping the grammar that parsed them better).
A check that raises on a strange file does not remove the file or stop the shard: the error is
counted under `check_errors` and the remaining checks still run.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from tasks.quality import heuristics, syntax
from tasks.quality.config import Config
from tasks.quality.decontam import BenchmarkIndex, FileHits
from tasks.quality.languages import grammar, grammar_key, parser
from tasks.quality.scorer import QualityScorer
from tasks.quality.syntax import Finding

# every reason a file can be removed for (metrics list all of them, zeros included)
REASONS = (
    "no_content", "bad_sample", "contaminated", "syntax_error", "syntax_python", "python2",
    *heuristics.REASONS, "low_quality_score",
)


@dataclass
class ScreenContext:
    """Per-shard state shared by all files: config, loaded index/scorer, counters."""

    cfg: Config
    index: BenchmarkIndex | None = None
    scorer: QualityScorer | None = None
    seconds: Counter = field(default_factory=Counter)
    check_errors: Counter = field(default_factory=Counter)
    parsed: Counter = field(default_factory=Counter)

    def _timed(self, name: str, fn, *args):
        start = time.perf_counter()
        try:
            return fn(*args)
        except Exception:  # a check must never take the shard down
            self.check_errors[name] += 1
            return None
        finally:
            self.seconds[name] += time.perf_counter() - start


def contamination_finding(hits: FileHits | None, index: BenchmarkIndex, min_gram_hits: int) -> Finding | None:
    if hits is None or not hits.contaminated(min_gram_hits):
        return None
    benches = ",".join(index.benchmark_names(hits.mask))
    return Finding("contaminated", f"{benches}: {hits.grams} grams, {hits.short_items} short items; "
                                   f"e.g. {' '.join(hits.items)}")


def screen_file(ctx: ScreenContext, path: str, lang: str | None, content: str | None,
                hits: FileHits | None) -> Finding | None:
    """Why this file should be removed, or None to keep it."""
    cfg = ctx.cfg
    if content is None:
        return Finding("no_content", "content is null")
    if ctx.index is not None:
        found = contamination_finding(hits, ctx.index, cfg.decontam.min_gram_hits)
        if found:
            return found

    key = grammar_key(lang, path)
    gram = grammar(key) if key else None
    tree = None
    if gram is not None and (cfg.syntax.enabled or _needs_tree(cfg)):
        data = content.encode("utf-8", "surrogatepass")
        tree = ctx._timed("parse", parser(key).parse, data)
        best = None
        if tree is not None and (cfg.syntax.enabled or key in syntax.ALTERNATIVES):
            # C/C++: the better of the two grammars, for the syntax check and the structure rules alike
            best = ctx._timed("syntax", syntax.best_parse, tree, data, key, _reparse, cfg.syntax.reparse_share)
            if best is not None:
                key, tree, gram = best.key, best.tree, grammar(best.key)
        if tree is not None:
            ctx.parsed[key] += 1
            if cfg.syntax.enabled and best is not None:
                found = syntax.share_finding(best, cfg.syntax.max_error_share)
                if found:
                    return found
    if cfg.syntax.enabled and cfg.syntax.python_compile and key == "python":
        found = ctx._timed("python_compile", syntax.check_python_compile, content, path)
        if found and not (found.reason == "python2" and cfg.syntax.python2 == "keep"):
            return found

    view = heuristics.FileView(path, lang, content, tree, gram if tree is not None else None)
    found = ctx._timed("heuristics", heuristics.screen, view, cfg.heuristics)
    if found:
        return found

    if ctx.scorer is not None:
        score = ctx._timed("scorer", ctx.scorer.score, content)
        if score is not None and score < cfg.scorer.threshold:
            return Finding("low_quality_score", f"score {score:.3f} < {cfg.scorer.threshold}")
    return None


def _reparse(key: str, data: bytes):
    p = parser(key)
    return p.parse(data) if p is not None else None


def _needs_tree(cfg: Config) -> bool:
    return cfg.heuristics.max_function_lines > 0 or cfg.heuristics.max_nesting_depth > 0
