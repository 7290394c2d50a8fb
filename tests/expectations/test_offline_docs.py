"""Data Docs pages point at vendored copies of their CDN assets, at the right depth, and stay so."""
from __future__ import annotations

from pathlib import Path

from expectations.offline_docs import ASSETS, ASSETS_DIR, localise, localise_html, remote_assets

PAGE = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-abc+/=" crossorigin="anonymous"></script>
<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>
<style>.x { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') }</style>
<link rel="shortcut icon" href="../static/images/favicon.ico"/>
</head><body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&id=2">
<a href="https://greatexpectations.io">GX</a></body></html>"""


def test_every_mapped_asset_is_vendored_with_a_licence_note() -> None:
    for rel in ASSETS.values():
        assert (ASSETS_DIR / rel).stat().st_size > 100, rel
    readme = (ASSETS_DIR / "README.md").read_text()
    for name in ("jquery", "bootstrap", "popper.js", "vega", "fontawesome"):
        assert name in readme
    # Font Awesome's stylesheet finds its fonts at ../webfonts/
    assert (ASSETS_DIR / "webfonts" / "fa-solid-900.woff2").exists()


def test_page_is_rewritten_at_its_depth_and_links_stay_links() -> None:
    assert len(remote_assets(PAGE)) == 5
    out = localise_html(PAGE, "../../")
    assert remote_assets(out) == []
    assert '"../../static/vendor/css/bootstrap-4.3.1.min.css"' in out
    assert '"../../static/vendor/js/vega-lite-5.23.0.min.js"' in out
    assert "integrity=" not in out and "crossorigin" not in out  # they would block a file:// load
    assert "url('../../static/images/logo-long.png')" in out
    assert 'src="../../static/images/logo-long.png"' in out
    assert 'href="../../static/images/favicon.ico"' in out  # GX's one-folder-short link corrected
    assert 'href="https://greatexpectations.io"' in out  # a link the reader may follow is not an asset
    assert localise_html(out, "../../") == out


def test_localise_copies_assets_once_and_is_idempotent(tmp_path: Path) -> None:
    docs = tmp_path / "data_docs"
    (docs / "validations" / "s").mkdir(parents=True)
    (docs / "index.html").write_text(PAGE)
    (docs / "validations" / "s" / "run.html").write_text(PAGE)
    assert localise(docs) == 2
    index, nested = (docs / "index.html").read_text(), (docs / "validations" / "s" / "run.html").read_text()
    assert '"static/vendor/js/popper-1.12.9.min.js"' in index
    assert '"../../static/vendor/js/popper-1.12.9.min.js"' in nested
    for rel in ASSETS.values():
        assert (docs / "static" / "vendor" / rel).read_bytes() == (ASSETS_DIR / rel).read_bytes()
    assert localise(docs) == 0
    assert localise(tmp_path / "missing") == 0
