"""A self-contained HTML page: inline CSS, images as data URIs, no script, font or network request.

A content-security policy forbids every fetch, so the page looks the same offline as online. The CSS
is responsive: figures shrink to the screen and wide tables scroll inside their box on a phone.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1d2329;background:#f5f6f8}
main{max-width:1040px;margin:0 auto;padding:12px}
header{padding:8px 4px}
h1{font-size:1.6rem;margin:.2em 0}
h2{font-size:1.25rem;margin:0 0 .5em}
.sub{color:#5b6570;margin:0;overflow-wrap:anywhere}
nav{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0}
nav a{font-size:.9rem;padding:3px 10px;border-radius:14px;background:#e3e8ef;color:#1f4f82;
 text-decoration:none}
section{background:#fff;border-radius:8px;padding:14px 16px;margin:12px 0;
 box-shadow:0 1px 3px rgba(0,0,0,.08)}
figure{margin:0}
img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption,.note{color:#5b6570;font-size:.9rem;margin-top:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.card{background:#f0f4f9;border-radius:6px;padding:8px 10px}
.card b{display:block;font-size:1.35rem}
.card span{color:#5b6570;font-size:.85rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.92rem;min-width:50%}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td code{overflow-wrap:anywhere}
.hint{display:none}
@media (max-width:700px){main{padding:6px}section{padding:10px}body{font-size:15px}
 th,td{padding:4px 6px}
 figure .pan{overflow-x:auto}
 figure .pan img{width:640px;max-width:none}
 .hint{display:block;color:#5b6570;font-size:.8rem}}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass
class Section:
    """One card of the page: an anchor id, a heading and already-escaped HTML content."""

    id: str
    title: str
    body: str


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def image(png: bytes, alt: str, caption: str = "") -> str:
    """A <figure> holding the PNG as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    # On a phone the picture keeps a legible width and pans sideways inside its own box.
    return (f'<figure><div class="pan"><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f'</div><span class="hint">swipe the picture sideways to see all of it</span>{cap}</figure>')


def table(headers: Sequence[str], rows: Iterable[Sequence[object]],
          numeric: Sequence[bool] | None = None) -> str:
    """A scrollable table; `numeric` columns are right-aligned. Cells are escaped."""
    numeric = numeric or [False] * len(headers)
    cls = ['class="num"' if n else "" for n in numeric]
    head = "".join(f"<th {c}>{esc(h)}</th>" for h, c in zip(headers, cls, strict=True))
    body = "".join("<tr>" + "".join(f"<td {c}>{esc(v)}</td>" for v, c in zip(r, cls, strict=True))
                   + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def cards(items: Sequence[tuple[str, str]]) -> str:
    """Big-number tiles: (value, label) pairs."""
    tiles = "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in items)
    return f'<div class="cards">{tiles}</div>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole document."""
    nav = "".join(f'<a href="#{s.id}">{esc(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{esc(s.title)}</h2>{s.body}</section>'
                   for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p><nav>{nav}</nav></header>'
        f"{body}</main></body></html>\n"
    )
