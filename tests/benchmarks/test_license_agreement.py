"""benchmarks.license_agreement compares the licence files with the REGISTRY's licence, not the crawl's detection."""
from __future__ import annotations

import tasks.crawl
from benchmarks.license_agreement import compare_source

MIT = ("MIT License\n\nCopyright (c) 2020 A\n\nPermission is hereby granted, free of charge, to any person obtaining a copy "
       "of this software and associated documentation files (the \"Software\"), to deal in the Software without "
       "restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, "
       "sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do "
       "so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be "
       "included in all copies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT "
       "WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, "
       "FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE "
       "LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING "
       "FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.\n")


def test_declared_licence_is_the_registrys_not_the_detected_one(monkeypatch):
    rows = [{"path": "LICENSE", "content": MIT, "license": "MIT"}, {"path": "a.py", "content": "x = 1\n", "license": "MIT"}]
    fake = {"repo": "pypi/a@1", "rows": rows, "error": None, "license": {"spdx": "MIT", "declared": "Apache-2.0"}}
    monkeypatch.setattr(tasks.crawl, "crawl_source", lambda spec, cfg, cache_dir=None: fake)
    out = compare_source({"type": "pypi", "name": "a", "version": "1"}, type("Cfg", (), {"cache_dir": None})())
    assert (out["declared"], out["from_files"], out["agree"], out["confirmed"]) == ("Apache-2.0", "MIT", False, False)
