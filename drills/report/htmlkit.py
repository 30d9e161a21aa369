"""Small HTML building blocks and the one stylesheet, shared by the report, the comparison and the index.

Everything is inline (no network request, opens from file:// offline); every value is escaped and cut to the
caps of drills.report.quote (a string, a table's rows, a list's items).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from drills.report.fmt import num
from drills.report.quote import QUOTE_MAX, clip, cut_note, within_section

MAX_ITEMS = 100  # a generic value never grows the page by more than this many rows or items
# Every page drills writes says so: the runs index is only ever overwritten when the old one has this.
GENERATOR = '<meta name="generator" content="drills">'


def esc(value: object, limit: int = QUOTE_MAX) -> str:
    """Escaped text of any value, cut to `limit` bytes (drills.report.quote); None reads as a dash."""
    if value is None:
        return "—"
    return html.escape(clip(str(value), limit), quote=True)


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "",
          row_attrs: Iterable[str] | None = None) -> str:
    """A table from already-escaped cell HTML; `row_attrs` adds attributes (e.g. data-*) per row. Rows beyond
    the section cap are left out, and a last row says how many."""
    heads = list(headers)
    head = "".join(f"<th>{esc(h)}</th>" for h in heads)
    attrs = list(row_attrs) if row_attrs is not None else None
    body = []
    for i, row in enumerate(rows):
        extra = f" {attrs[i]}" if attrs and i < len(attrs) and attrs[i] else ""
        body.append(f"<tr{extra}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    body, left, left_bytes = within_section(body)
    if left:
        body.append(f'<tr class="cut"><td colspan="{max(len(heads), 1)}" class="muted">'
                    f"{esc(cut_note(left, left_bytes))}</td></tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def items_html(items: Iterable[object], cls: str = "") -> str:
    """A bulleted list of text items (escaped here), cut at the section cap like a table."""
    shown, left, left_bytes = within_section(f"<li>{esc(x)}</li>" for x in items)
    if left:
        shown.append(f'<li class="muted">{esc(cut_note(left, left_bytes, "items"))}</li>')
    return f'<ul class="{cls}">{"".join(shown)}</ul>' if cls else f"<ul>{''.join(shown)}</ul>"


def value_html(value: object, depth: int = 0) -> str:
    """Any JSON value as readable HTML: mappings as key/value tables, lists of records as tables."""
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">none</span>'
        if depth > 2:
            return f"<code>{esc(json.dumps(value, default=str)[:400])}</code>"
        items = list(value.items())
        rows = [[f"<code>{esc(k)}</code>", value_html(v, depth + 1)] for k, v in items[:MAX_ITEMS]]
        more = f'<p class="muted">… and {len(items) - MAX_ITEMS} more</p>' if len(items) > MAX_ITEMS else ""
        return table(["", ""], rows, cls="kv") + more
    if isinstance(value, list):
        if not value:
            return '<span class="muted">none</span>'
        if all(isinstance(v, dict) for v in value):
            return records_html(value)
        more = f" … and {len(value) - MAX_ITEMS} more" if len(value) > MAX_ITEMS else ""
        return esc(", ".join(str(v) for v in value[:MAX_ITEMS]) + more)
    if isinstance(value, float):
        return esc(num(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return esc(value)


def records_html(records: list[dict], limit: int = 50) -> str:
    """A list of JSON objects as one table (union of keys, first seen first); long lists are cut."""
    keys: list[str] = []
    for r in records[:limit]:
        for k in r:
            if k not in keys:
                keys.append(k)
    rows = []
    for r in records[:limit]:
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append(esc(json.dumps(v, default=str)) if isinstance(v, (dict, list)) else value_html(v, 3))
        rows.append(cells)
    more = f'<p class="muted">… and {len(records) - limit} more</p>' if len(records) > limit else ""
    return table(keys, rows, cls="records") + more


def pill(word: str, css: str) -> str:
    return f'<span class="pill {css}">{esc(word)}</span>'


CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--aborted:#bc4c00;--inconclusive:#9a6700;--error:#8250df;--unknown:#6e7781;
--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg2:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,"DejaVu Sans",sans-serif;color:var(--fg);
background:#fff}
main{max-width:1180px;margin:0 auto;padding:0 20px 40px}
h1{font-size:24px;margin:6px 0 2px}h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;
border-bottom:1px solid var(--line)}h3{font-size:14px;margin:18px 0 4px}
a{color:#0969da}code,pre{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
pre{background:var(--bg2);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;
white-space:pre-wrap;word-break:break-word}
.banner{color:#fff;padding:18px 20px 14px;margin:0 -20px 0}
.banner.pass{background:var(--pass)}.banner.fail{background:var(--fail)}.banner.aborted{background:var(--aborted)}
.banner.inconclusive{background:var(--inconclusive)}.banner.error{background:var(--error)}
.banner .verdict{font-size:28px;font-weight:700;letter-spacing:.02em}
.banner .why{opacity:.95;margin-top:2px}.banner .expected{font-size:13px;opacity:.9}
.banner ul.reasons{margin:4px 0 2px;padding-left:20px;font-weight:600}
.banner h1{color:#fff}.banner .desc{margin:2px 0 8px;opacity:.95;max-width:900px}
.facts{display:flex;flex-wrap:wrap;gap:4px 22px;font-size:13px;margin:0}
.facts div{display:flex;gap:6px}.facts dt{opacity:.8}.facts dd{margin:0;font-weight:600}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:6px 0;z-index:2;
font-size:13px}nav a{margin-right:14px;text-decoration:none}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px 4px 0;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600;white-space:nowrap}
table.kv th{display:none}table.kv td:first-child{color:var(--muted);white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.pill.pass{background:var(--pass)}.pill.fail{background:var(--fail)}.pill.unknown{background:var(--unknown)}
.pill.aborted{background:var(--aborted)}.pill.inconclusive{background:var(--inconclusive)}
.pill.error{background:var(--error)}.pill.none{background:var(--unknown)}
tr.failed td{background:#ffebe9}.bad{color:var(--fail);font-weight:700}.good{color:var(--pass)}
.muted{color:var(--muted)}
.notes{border:1px solid #d4a72c;background:#fff8c5;border-radius:6px;padding:8px 14px;margin:16px 0}
.notes h2{border:0;margin:4px 0;font-size:15px}.notes ul{margin:4px 0;padding-left:20px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 4px}
.card{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:130px}
.card .k{font-size:12px;color:var(--muted)}.card .v{font-size:19px;font-weight:650;font-variant-numeric:tabular-nums}
.card .m{font-size:11px;line-height:1.3;margin-top:2px;max-width:210px}
figure{margin:4px 0 14px}figcaption{font-size:12px;color:var(--muted);margin:-2px 0 0 72px}
svg.chart{display:block;max-width:100%;height:auto}
svg.chart text{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif}
svg.chart .fault-span.hl path{opacity:.45!important}
tr.hl td{background:#ddf4ff}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.cmd{display:flex;gap:8px;align-items:flex-start}.cmd pre{flex:1;margin:0}
footer{margin-top:30px;font-size:12px;color:var(--muted)}
.delta-worse{color:var(--fail);font-weight:600}.delta-better{color:var(--pass);font-weight:600}
"""

# Hovering a fault in the table highlights its shading in every chart, and the other way round.
SCRIPT = """
(function(){
  function mark(id,on){
    document.querySelectorAll('[data-fault-key="'+id+'"]').forEach(function(e){e.classList.toggle('hl',on);});
  }
  document.querySelectorAll('.fault-span').forEach(function(g){
    var key=g.getAttribute('data-fault-id').replace(/[^A-Za-z0-9_-]+/g,'_')+'-'+g.getAttribute('data-iteration');
    g.setAttribute('data-fault-key',key);
  });
  document.querySelectorAll('[data-fault-key]').forEach(function(e){
    var k=e.getAttribute('data-fault-key');
    e.addEventListener('mouseenter',function(){mark(k,true);});
    e.addEventListener('mouseleave',function(){mark(k,false);});
  });
})();
"""


def page(title: str, body: str, script: bool = False) -> str:
    """A complete self-contained HTML document."""
    js = f"<script>{SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{GENERATOR}'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}{js}</body></html>\n")
