"""Licence detection, The Stack categories and the keep/drop policy."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.common.params import ParamError
from tasks.governance import LicensePolicy, classify, detect_repo_license, license_policy_from_params
from tasks.governance.licenses import is_license_file, manifest_license, names_all_of, normalize_expression
from tasks.governance.licenses import names_a_license, same_license

ROOT = Path(__file__).resolve().parents[2]
APACHE = (ROOT / "LICENSE").read_text(encoding="utf-8")  # the project's own Apache-2.0 text
MIT = """MIT License

Copyright (c) 2024 Jane Roe

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def test_licence_file_wins_and_metadata_confirms():
    r = detect_repo_license([("LICENSE", MIT), ("src/app.py", "print(1)\n")], "MIT")
    assert r.spdx == "MIT" and r.confidence == 0.95 and r.evidence == ("LICENSE: MIT", "registry: MIT")
    alone = detect_repo_license([("LICENSE.txt", APACHE)])
    assert alone.spdx == "Apache-2.0" and alone.confidence == 0.9
    clash = detect_repo_license([("COPYING", MIT)], "GPL-3.0-only")
    assert clash.spdx == "MIT" and clash.confidence == 0.5


def test_dual_licence_operator_comes_from_the_manifest():
    cargo = '[package]\nname = "x"\nlicense = "MIT OR Apache-2.0"\n'
    r = detect_repo_license([("LICENSE-MIT", MIT), ("LICENSE-APACHE", APACHE), ("Cargo.toml", cargo)])
    assert r.spdx == "MIT OR Apache-2.0" and r.confidence == 0.95
    without = detect_repo_license([("LICENSE-MIT", MIT), ("LICENSE-APACHE", APACHE)])
    assert without.spdx == "MIT AND Apache-2.0"  # nothing says OR: everything found applies
    pkg_info = "Metadata-Version: 2.1\nName: x\nClassifier: License :: OSI Approved :: Apache Software License\n" \
               "Classifier: License :: OSI Approved :: BSD License\n"
    bsd = (ROOT / "tests" / "governance" / "bsd3.txt")
    fam = detect_repo_license([("LICENSE.APACHE", APACHE), ("LICENSE.BSD", bsd.read_text()), ("PKG-INFO", pkg_info)])
    assert fam.spdx == "Apache-2.0 OR BSD-3-Clause"  # the BSD family resolved by the file


def test_nested_licences_and_missing_ones():
    assert not is_license_file("vendor/lib/LICENSE") and is_license_file("LICENSES/MIT.txt")
    assert is_license_file("LICENCE.md") and is_license_file("COPYING") and not is_license_file("license.py")
    r = detect_repo_license([("third_party/zlib/LICENSE", MIT), ("main.c", "int main(){}")])
    assert r.spdx is None and r.confidence == 0.0
    only_meta = detect_repo_license([("package.json", json.dumps({"name": "x", "license": "ISC"}))])
    assert only_meta.spdx == "ISC" and only_meta.confidence == 0.7


@pytest.mark.parametrize("path,text,expected", [
    ("package.json", '{"license": {"type": "MIT"}}', "MIT"),
    ("package.json", '{"licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]}', "MIT OR Apache-2.0"),
    ("pyproject.toml", '[project]\nlicense = {text = "BSD-3-Clause"}\n', "BSD-3-Clause"),
    ("pyproject.toml", '[project]\nclassifiers = ["License :: OSI Approved :: MIT License"]\n', "MIT License"),
    ("setup.cfg", "[metadata]\nlicense = Apache 2.0\n", "Apache 2.0"),
    ("PKG-INFO", "Metadata-Version: 2.4\nLicense-Expression: MIT OR 0BSD\n", "MIT OR 0BSD"),
    ("package.json", "{broken", None),
])
def test_manifest_license(path, text, expected):
    assert manifest_license(path, text) == expected


@pytest.mark.parametrize("raw,spdx", [
    ("MIT License", "MIT"), ("mit", "MIT"), ("Apache Software License", "Apache-2.0"), ("new BSD", "BSD-3-Clause"),
    ("BSD License", "LicenseRef-BSD"), ("GPL-2.0+", "GPL-2.0-or-later"), ("(MIT OR CC0-1.0)", "MIT OR CC0-1.0"),
    ("Dual License", "LicenseRef-unknown"), ("UNKNOWN", None), ("SEE LICENSE IN LICENSE.txt", None), (None, None),
])
def test_normalize_expression(raw, spdx):
    assert normalize_expression(raw) == spdx


def test_names_a_license_only_when_something_comparable_is_declared():
    assert names_a_license("MIT") and names_a_license("LicenseRef-BSD") and names_a_license("MIT AND LicenseRef-unknown")
    assert not names_a_license(normalize_expression("Dual License")) and not names_a_license(None)


def test_same_license_and_containment():
    assert same_license("LicenseRef-BSD", "BSD-2-Clause") and not same_license("MIT", "Apache-2.0")
    assert same_license("MIT OR Apache-2.0", "Apache-2.0 AND MIT")  # operators are not compared
    assert names_all_of("MIT AND CC0-1.0", "MIT") and not names_all_of("MIT", "MIT AND CC0-1.0")


@pytest.mark.parametrize("spdx,category", [
    ("MIT", "permissive"), ("MIT OR GPL-3.0-only", "permissive"), ("MIT AND GPL-3.0-only", "non_permissive"),
    ("LGPL-2.1-or-later", "non_permissive"), ("MPL-2.0", "non_permissive"), (None, "no_license"),
    ("LicenseRef-unknown", "unknown"), ("Apache-2.0 AND LicenseRef-unknown", "unknown"), ("LicenseRef-BSD", "permissive"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", "non_permissive"), ("not an (expression", "unknown"),
])
def test_classify(spdx, category):
    assert classify(spdx) == category


def test_policy_decisions_and_params():
    default = LicensePolicy()
    assert default.decide("MIT").keep and not default.decide("GPL-3.0-only").keep
    assert default.decide("GPL-3.0-only").reason == "licence_non_permissive:GPL-3.0-only"
    assert default.decide(None).reason == "licence_no_license"
    pol = license_policy_from_params({"allow": ["permissive", "no_license"], "deny_licenses": ["WTFPL"],
                                      "allow_licenses": ["MPL-2.0"], "min_confidence": 0.6})
    assert pol.decide(None).keep and not pol.decide("WTFPL").keep and pol.decide("MPL-2.0").keep
    assert pol.decide("WTFPL").reason == "licence_denied:WTFPL"
    assert not pol.decide("MIT", confidence=0.5).keep and pol.decide("MIT", confidence=0.9).keep
    with pytest.raises(ParamError, match=r"licenses.allow\[0\]: unknown category 'copyleft'"):
        license_policy_from_params({"allow": ["copyleft"]})
    with pytest.raises(ParamError, match="licenses.alow: unknown key"):
        license_policy_from_params({"alow": ["permissive"]})
    with pytest.raises(ParamError, match="also in licenses.allow_licenses"):
        license_policy_from_params({"allow_licenses": ["MIT"], "deny_licenses": ["MIT"]})
    with pytest.raises(ParamError, match="min_confidence"):
        license_policy_from_params({"min_confidence": 2})


def test_crawl_licence_metrics_compare_only_declarations_that_name_a_licence():
    from tasks.crawl.crawl import license_metrics

    kept = [{"repo": "a", "license": {"spdx": "MIT", "declared": "MIT License", "category": "permissive"}},
            {"repo": "b", "license": {"spdx": "Apache-2.0 AND BSD-3-Clause", "declared": "Dual License",
                                      "category": "permissive"}},
            {"repo": "c", "license": {"spdx": "MIT", "declared": "Apache-2.0", "category": "permissive"}},
            {"repo": "d", "license": {"spdx": "BSD-3-Clause", "declared": "BSD License", "category": "permissive"}}]
    m = license_metrics(kept)
    assert m["declared_and_detected"] == 3 and m["agreement_same"] == round(2 / 3, 4)
    assert [d["repo"] for d in m["differences"]] == ["c"]
