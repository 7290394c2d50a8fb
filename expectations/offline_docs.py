"""Make Great Expectations' Data Docs render with no network.

GX writes pages that load jQuery, Bootstrap, Vega and Font Awesome from CDNs (and its logo from S3). The
pipeline's machines and the browser tests are offline, so each page would show unstyled, chart-less and with
`$ is not defined`. After every Data Docs build, `localise` copies the vendored copies (`docs_assets/`, fetched
from the npm registry, licences alongside) into `<docs>/static/vendor/` and points every page at them.
A CDN address not in `ASSETS` is left as it is and reported by `remote_assets`, so a GX upgrade that adds
one fails the browser test instead of silently going online.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
VENDOR = "static/vendor"
GX_IMAGES = "static/images"

# CDN address (as GX 1.x writes it) -> file under docs_assets/
ASSETS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "js/jquery-3.7.1.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap-4.3.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap-4.3.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "js/bootstrap-table-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "css/bootstrap-table-1.19.1.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "js/bootstrap-table-filter-control-1.19.1.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "css/bootstrap-table-filter-control-1.19.0.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "css/bootstrap-table-filter-control-1.19.0.css",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "js/popper-1.12.9.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "js/bootstrap-datepicker-1.9.0.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "css/bootstrap-datepicker-1.9.0.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/fontawesome-6.6.0.all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "js/vega-5.33.1.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "js/vega-lite-5.23.0.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "js/vega-embed-6.29.0.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "css/bootstrap-prefers-dark-1.1.0.css",
}
# GX's logos on S3 (with a per-build query string) -> the copies GX itself ships in static/images
S3_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[\w.-]+\.png(\?[^\"')\s]*)?")
# GX's own relative links to static/ (its favicon link on validation pages is one folder short)
STATIC_LINK = re.compile(r"""(?<=["'(])(?:\./|(?:\.\./)+)static/""")
# Subresource-integrity and CORS attributes block a file:// load of the local copy; GX puts them on two scripts
SRI = re.compile(r'\s+(integrity="sha\d+-[^"]*"|crossorigin="anonymous")')
# Addresses a page would fetch by itself: scripts, stylesheets, images, CSS url(...) (not <a href> links)
REMOTE_LOAD = re.compile(r'(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)="(https?://[^"]+)"|url\([\'"]?(https?://[^\'")]+)')


def _copy_assets(docs_dir: Path) -> None:
    for src in sorted(p for p in ASSETS_DIR.rglob("*") if p.is_file()):
        dst = docs_dir / VENDOR / src.relative_to(ASSETS_DIR)
        if dst.exists() and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)


def localise_html(html: str, prefix: str) -> str:
    """`html` with every known CDN address replaced by `prefix` + its local path (prefix: page -> docs root)."""
    out = html
    for url, rel in sorted(ASSETS.items(), key=lambda kv: -len(kv[0])):  # longest first: no prefix clash
        out = out.replace(f'"{url}"', f'"{prefix}{VENDOR}/{rel}"')
    out = S3_LOGO.sub(f"{prefix}{GX_IMAGES}/logo-long.png", out)
    out = SRI.sub("", out) if out != html else out
    return STATIC_LINK.sub(f"{prefix}static/", out)


def localise(docs_dir: str | Path) -> int:
    """Vendor the assets into `docs_dir` and rewrite its pages; returns how many pages changed."""
    root = Path(docs_dir)
    if not root.is_dir():
        return 0
    _copy_assets(root)
    changed = 0
    for page in sorted(root.rglob("*.html")):
        depth = len(page.relative_to(root).parts) - 1
        html = page.read_text(encoding="utf-8")
        new = localise_html(html, "../" * depth)
        if new != html:
            tmp = page.with_name(page.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(page)
            changed += 1
    return changed


def remote_assets(html: str) -> list[str]:
    """Addresses on the network that `html` would load by itself (empty once localised)."""
    return sorted({a or b for a, b in REMOTE_LOAD.findall(html)})
