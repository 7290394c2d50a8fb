"""The page shell: inline CSS, header, navigation, footer. One self-contained HTML file (no network)."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

CSS = """
:root{--bg:#f5f6f8;--card:#fff;--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--accent:#4e79a7;--ok:#2f855a;
--warn:#b7791f;--bad:#c53030}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
header{background:#1f2933;color:#fff;padding:22px 0 18px}
.wrap{max-width:1000px;margin:0 auto;padding:0 20px}
header h1{margin:0;font-size:22px;font-weight:650;letter-spacing:.2px}
header p{margin:4px 0 0;color:#cbd2d9}
header .links{float:right;margin-top:4px}
header .links a{color:#fff;background:rgba(255,255,255,.12);border-radius:6px;padding:6px 12px;margin-left:8px;
text-decoration:none;font-weight:550}
header .links a:hover{background:rgba(255,255,255,.22)}
header .links span.off{color:#9aa5b1;margin-left:8px}
nav{position:sticky;top:0;z-index:2;background:rgba(245,246,248,.94);border-bottom:1px solid var(--line);
backdrop-filter:blur(4px)}
nav .wrap{display:flex;gap:18px;overflow-x:auto;padding-top:9px;padding-bottom:9px}
nav a{color:var(--muted);text-decoration:none;font-weight:550;white-space:nowrap}
nav a:hover{color:var(--accent)}
main{padding:18px 0 40px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(122px,1fr));gap:12px;margin-bottom:18px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.kpi .v{font-size:21px;font-weight:650;font-variant-numeric:tabular-nums}
.kpi .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.5px}
.kpi .s{color:var(--muted);font-size:12px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 22px 20px;
margin:0 0 18px;box-shadow:0 1px 2px rgba(31,41,51,.04)}
section h2{margin:0 0 4px;font-size:18px}
section h3{margin:18px 0 6px;font-size:15px}
p.lead{margin:0 0 12px;color:var(--muted)}
p.missing{margin:6px 0;padding:10px 12px;border-radius:8px;background:#f0f4f8;color:var(--muted);
border-left:4px solid #9aa5b1}
.badge{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;
vertical-align:2px;margin-left:8px}
.badge.ok{background:#e6f4ea;color:var(--ok)}.badge.missing{background:#edf0f3;color:var(--muted)}
.badge.partial{background:#fdf3e1;color:var(--warn)}
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0 4px}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#3e4c59}
svg text.strong{font-weight:650;fill:#1f2933}
svg text.val,svg text.tick{fill:#616e7c;font-variant-numeric:tabular-nums}
svg text.inbar{fill:#fff;font-weight:600;font-variant-numeric:tabular-nums}
svg text.seg{fill:#fff;font-size:11px;font-weight:600}
svg text.axlbl{fill:#616e7c;font-size:12px}
svg line.grid{stroke:#e4e7eb;stroke-width:1}
svg line.axis{stroke:#9aa5b1;stroke-width:1}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.grid2.side{grid-template-columns:1fr 300px;align-items:start}
.grid2>div{min-width:0}.scroll{overflow-x:auto}
@media (max-width:820px){.grid2,.grid2.side{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%;margin:8px 0 2px;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.4px;color:var(--muted);font-weight:600;
background:#fafbfc}
td.n,th.n{text-align:right}
tbody tr:hover{background:#f7f9fb}
td code,p code{font-size:12.5px;background:#f0f4f8;padding:1px 5px;border-radius:4px}
details{margin-top:8px}summary{cursor:pointer;color:var(--accent);font-weight:550}
.note{color:var(--muted);font-size:12.5px}
.problems{border-left:4px solid var(--warn);background:#fffaf0;padding:10px 14px;border-radius:8px}
.pill{display:inline-block;padding:0 7px;border-radius:5px;font-size:12px;font-weight:600}
.pill.kept{background:#e6f4ea;color:var(--ok)}.pill.dropped{background:#fde8e8;color:var(--bad)}
.pill.err{background:#fde8e8;color:var(--bad)}.pill.skip{background:#edf0f3;color:var(--muted)}
footer{color:var(--muted);font-size:12.5px;padding:0 0 30px}
"""


@dataclass
class Section:
    id: str
    title: str
    status: str  # ok | partial | missing
    body: str
    nav: str = ""

    def html(self) -> str:
        label = {"ok": "ok", "partial": "partial", "missing": "not run"}.get(self.status, self.status)
        return (f'<section class="card" id="{self.id}" data-status="{self.status}"><h2>{escape(self.title)}'
                f'<span class="badge {self.status}">{label}</span></h2>{self.body}</section>')


def missing(what: str, hint: str) -> str:
    """The line a section shows for an input that does not exist yet."""
    return f'<p class="missing">{escape(what)} stage not run yet — <code>{escape(hint)}</code> not found.</p>'


def table(headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], raw: bool = False,
          cls: str = "") -> str:
    """headers: (title, numeric); cells are escaped unless raw=True (cells built from escaped parts)."""
    c = f' class="{cls}"' if cls else ""
    head = "".join(f'<th class="n">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>" for h, n in headers)
    body = []
    for row in rows:
        cells = []
        for (_, numeric), cell in zip(headers, row):
            text = cell if raw else escape(cell)
            cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kpi(key: str, value: str, sub: str = "") -> str:
    s = f'<div class="s">{escape(sub)}</div>' if sub else ""
    return f'<div class="kpi"><div class="k">{escape(key)}</div><div class="v">{escape(value)}</div>{s}</div>'


def render(title: str, subtitle: str, links: str, kpis: Sequence[str], sections: Sequence[Section],
           footer: str) -> str:
    nav = "".join(f'<a href="#{s.id}">{escape(s.nav or s.title)}</a>' for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<header><div class="wrap"><div class="links">{links}</div><h1>{escape(title)}</h1>'
        f"<p>{escape(subtitle)}</p></div></header>"
        f'<nav><div class="wrap">{nav}</div></nav>'
        f'<main><div class="wrap"><div class="kpis">{"".join(kpis)}</div>'
        f'{"".join(s.html() for s in sections)}</div></main>'
        f'<footer><div class="wrap">{footer}</div></footer>'
        "</body></html>\n"
    )
