"""A repository's licence as an SPDX expression, from its licence files, its manifests and the registry.

`detect_repo_license(files, declared) -> LicenseResult(spdx, evidence, confidence)`.

Evidence, strongest first:
1. licence files at the top of the tree (LICENSE*, LICENCE*, COPYING*, UNLICENSE, LICENSES/* of REUSE)
   identified by `licenseclassifier`: a pure-Python port of google/licensecheck (the matcher behind
   pkg.go.dev's licence detection) with the SPDX licence list bundled and refreshed monthly. It
   reports every licence text in a file with its character span and refuses to guess when too little
   of the file is licence text (coverage threshold). ~2-5 ms a file after a 0.1 s load, offline, no
   native code. Alternatives weighed: scancode-toolkit (the reference, but hundreds of MB of
   dependencies and seconds of start-up per process), pyaskalono (Rust askalono, but its binding
   reloads the licence store on every call: 0.12 s a file, and it returns only one best match),
   license-matcher / licenseid (heavier, fewer releases). Licence files nested deeper (vendored code)
   are not the repository's licence and are ignored.
2. manifests as secondary evidence: package.json `license`, pyproject.toml `[project] license`,
   setup.cfg `license`, Cargo.toml `[package] license`, PKG-INFO `License-Expression` / `License` /
   trove classifiers; normalised to SPDX with `license-expression` (aboutcode's SPDX parser) after
   mapping the common free-text names ("MIT License", "Apache Software License", "new BSD").
3. `declared`: the registry's metadata (the crawl's `license` column), used like a manifest.

When the files identify licences, they win and a manifest whose keys agree supplies the operator
(`MIT OR Apache-2.0` from Cargo.toml over two files that only say "MIT" and "Apache-2.0"); without
one, several licences found are combined with AND (everything found applies: the conservative
reading). Ambiguous names (a bare "BSD License" classifier) become the family's LicenseRef and are
refined by a file when one exists.
"""
from __future__ import annotations

import configparser
import email.parser
import json
import posixpath
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from tasks.crawl.languages import detect_language
from tasks.governance.license_names import FAMILY_REFS, family_of, spdx_from_name

_LICENSE_FILE = re.compile(r"(?i)^(?:licen[cs]e|copying|unlicen[cs]e|copyright|mit-license)(?:[-._][\w.-]*)?$")
_MANIFESTS = ("package.json", "pyproject.toml", "setup.cfg", "Cargo.toml", "PKG-INFO")
MAX_LICENSE_CHARS = 200_000
_TEXT_LANGUAGES = (None, "Markdown", "reStructuredText", "RMarkdown")


@dataclass(frozen=True)
class LicenseResult:
    """`spdx`: an SPDX expression (LicenseRef-* for families and unknown texts), or None when nothing says.
    `evidence`: where each part came from, e.g. "LICENSE: MIT", "package.json: MIT", "registry: MIT".
    `confidence`: 0.95 licence text agreeing with metadata, 0.9 licence text alone (or naming all the
    metadata's licences and more), 0.7 manifest or registry only, 0.5 when sources disagree (the licence text wins), 0.1 less when a licence text
    was recognised in only part of its file, 0 when nothing was found."""

    spdx: str | None
    evidence: tuple[str, ...]
    confidence: float


@lru_cache(maxsize=1)
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def normalize_expression(text: str | None) -> str | None:
    """An SPDX expression for a declared licence string, or None when it names no licence.

    Valid SPDX expressions are rendered canonically (`mit` -> `MIT`, `GPL-2.0+` -> `GPL-2.0-or-later`);
    free-text names go through the name table; anything else becomes `LicenseRef-unknown`."""
    if text is None:
        return None
    value = " ".join(str(text).split())
    if not value or value.upper() in ("UNKNOWN", "NONE", "NOASSERTION", "UNLICENSED", "SEE LICENSE", "OTHER"):
        return None
    if value.upper().startswith("SEE LICENSE IN"):
        return None  # npm's pointer to a file: the file decides
    named = spdx_from_name(value)
    if named:
        return named
    licensing = _licensing()
    try:
        expr = licensing.parse(value, validate=True, strict=False)
    except Exception:  # noqa: BLE001 - license-expression raises several error types for free text
        return "LicenseRef-unknown"
    return expr.render() if expr is not None else None


def names_a_license(expression: str | None) -> bool:
    """Whether an expression names at least one licence or licence family (`LicenseRef-BSD` does), not only
    `LicenseRef-unknown` (a declared "Dual License"): only such a declaration can agree or disagree with what
    the files say."""
    return any(key != "LicenseRef-unknown" for key in license_keys(expression))


def license_keys(expression: str | None) -> frozenset[str]:
    """The licence identifiers of an expression (operators dropped)."""
    if not expression:
        return frozenset()
    try:
        return frozenset(_licensing().license_keys(_licensing().parse(expression, strict=False)))
    except Exception:  # noqa: BLE001
        return frozenset({expression})


def same_license(a: str | None, b: str | None) -> bool:
    """Whether two expressions name the same licences, a family ref matching any of its members
    (`LicenseRef-BSD` ~ `BSD-3-Clause`); the operators are not compared."""
    ka, kb = license_keys(a), license_keys(b)
    if ka == kb:
        return True
    refs = set(FAMILY_REFS.values())
    if not ka or not kb or not (ka & refs or kb & refs):
        return False
    return {family_of(k) for k in ka} == {family_of(k) for k in kb}


def names_all_of(found: str | None, declared: str | None) -> bool:
    """Whether every licence of `declared` is among those of `found` (a family ref is matched by any
    member): the files confirm the declaration, even when they name more (a second licence of a dual
    licensing, the licence of bundled code)."""
    kf, kd = license_keys(found), license_keys(declared)
    if not kf or not kd:
        return kf == kd
    families = {family_of(k) for k in kf}
    return all(k in kf or (k in FAMILY_REFS.values() and family_of(k) in families) for k in kd)


def is_license_file(path: str) -> bool:
    """A licence file of the repository itself: at the top, or directly in a top LICENSES/ (REUSE)."""
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        # license.py, licenses.json, LICENSE.html: code or data about licences, not a licence text
        return bool(_LICENSE_FILE.match(parts[0])) and detect_language(parts[0]) in _TEXT_LANGUAGES
    return len(parts) == 2 and parts[0].upper() in ("LICENSES", "LICENCES") and bool(parts[1])


PARTIAL_COVERAGE = 40.0  # a second try for licence files with a long preamble (lodash's LICENSE: ~50% MIT text)


def identify_text(text: str) -> tuple[list[str], bool]:
    """SPDX ids of the licence texts in one file, in order, each once (licenseclassifier), and whether
    they only cover part of the file (found at PARTIAL_COVERAGE, not at the library's default 75%)."""
    from licenseclassifier import identify_license

    text = text[:MAX_LICENSE_CHARS]
    partial = False
    matches = identify_license(text)
    if not matches:
        matches, partial = identify_license(text, coverage_threshold=PARTIAL_COVERAGE), True
    ids: list[str] = []
    for match in matches:
        if match.id not in ids:
            ids.append(match.id)
    return ids, partial and bool(ids)


def _resolve_families(expr: str, found: list[str]) -> str | None:
    """`expr` (a manifest's, e.g. `Apache-2.0 OR LicenseRef-BSD`) with each family ref replaced by the
    one licence of that family the files found; None unless its licences are then exactly `found`."""
    out = expr
    for key in sorted(license_keys(expr)):
        if key in FAMILY_REFS.values():
            members = [f for f in found if family_of(f) == family_of(key)]
            if len(members) != 1:
                return None
            out = re.sub(rf"(?<![\w.-]){re.escape(key)}(?![\w.-])", members[0], out)
    return out if license_keys(out) == frozenset(found) else None


def manifest_license(path: str, text: str) -> str | None:
    """The licence a manifest declares (raw string), or None; malformed manifests declare nothing."""
    name = posixpath.basename(path)
    try:
        if name == "package.json":
            doc = json.loads(text)
            lic = doc.get("license") if isinstance(doc, dict) else None
            if isinstance(lic, dict):
                lic = lic.get("type")
            if lic is None and isinstance(doc, dict) and isinstance(doc.get("licenses"), list):
                types = [x.get("type") if isinstance(x, dict) else x for x in doc["licenses"]]
                lic = " OR ".join(t for t in types if isinstance(t, str)) or None
            return lic if isinstance(lic, str) else None
        if name in ("pyproject.toml", "Cargo.toml"):
            doc = tomllib.loads(text)
            table = doc.get("project" if name == "pyproject.toml" else "package") or {}
            lic = table.get("license")
            if isinstance(lic, dict):
                lic = lic.get("text") if isinstance(lic.get("text"), str) and len(lic["text"]) < 200 else None
            if lic is None and name == "pyproject.toml":
                lic = _classifier_license(table.get("classifiers") or [])
            return lic if isinstance(lic, str) else None
        if name == "setup.cfg":
            cp = configparser.ConfigParser(interpolation=None)
            cp.read_string(text)
            if cp.has_section("metadata"):
                for key in ("license_expression", "license"):
                    value = cp.get("metadata", key, fallback=None)
                    if value and "\n" not in value.strip() and len(value) < 200 and not value.startswith("file:"):
                        return value.strip()
                return _classifier_license(cp.get("metadata", "classifiers", fallback="").splitlines())
            return None
        if name == "PKG-INFO":
            # unlike the crawl's sdist_license (first classifier only), every licence classifier counts
            msg = email.parser.Parser().parsestr(text, headersonly=True)
            for header in ("License-Expression", "License"):
                value = (msg.get(header) or "").strip()
                if value and value.upper() != "UNKNOWN" and "\n" not in value and len(value) <= 200:
                    return value  # a License field holding a whole licence text is not a name
            return _classifier_license(msg.get_all("Classifier") or [])
    except (ValueError, configparser.Error, tomllib.TOMLDecodeError, AttributeError):
        return None
    return None


def _classifier_license(classifiers: Iterable[str]) -> str | None:
    names = []
    for c in classifiers:
        c = c.strip()
        if c.startswith("License ::"):
            names.append(c.split("::")[-1].strip())
    return " OR ".join(names) if names else None


def _join(ids: list[str], op: str) -> str:
    return ids[0] if len(ids) == 1 else f" {op} ".join(f"({i})" if " " in i else i for i in ids)


def detect_repo_license(files: Iterable[tuple[str, str]], declared: str | None = None) -> LicenseResult:
    """The repository's licence from (path, text) pairs of its files (paths relative to its root) and
    the registry-declared licence; see the module docstring for the rules."""
    found: list[str] = []
    weak = False  # some licence text was only recognised in part of its file
    evidence: list[str] = []
    manifest_exprs: list[tuple[str, str]] = []
    for path, text in files:
        if text is None:
            continue
        path = path.strip("/")
        if is_license_file(path):
            ids, partial = identify_text(text)
            note = " (part of the file)" if partial else ""
            evidence.append(f"{path}: {', '.join(ids) + note if ids else 'no licence text recognised'}")
            found.extend(i for i in ids if i not in found)
            weak = weak or partial
        elif "/" not in path and path in _MANIFESTS:
            expr = normalize_expression(manifest_license(path, text))
            if expr:
                manifest_exprs.append((path, expr))
                evidence.append(f"{path}: {expr}")
    declared_expr = normalize_expression(declared)
    if declared_expr:
        evidence.append(f"registry: {declared_expr}")
    metadata = manifest_exprs + ([("registry", declared_expr)] if declared_expr else [])
    if found:
        text_expr = _join(found, "AND")
        for _, expr in metadata:
            resolved = _resolve_families(expr, found)
            if resolved is not None:  # the files confirm the manifest, which gives the operator (OR/AND)
                return LicenseResult(resolved, tuple(evidence), 0.95)
        same = any(same_license(expr, text_expr) for _, expr in metadata)
        confirms = all(names_all_of(text_expr, expr) for _, expr in metadata)  # files name more, e.g. lodash's CC0
        conf = 0.95 if same else (0.9 if confirms else 0.5)
        return LicenseResult(text_expr, tuple(evidence), round(conf - (0.1 if weak else 0.0), 2))
    if metadata:
        first = metadata[0][1]
        conf = 0.7 if all(same_license(e, first) for _, e in metadata) else 0.5
        return LicenseResult(first, tuple(evidence), conf)
    return LicenseResult(None, tuple(evidence), 0.0)
