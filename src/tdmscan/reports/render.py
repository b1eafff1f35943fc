"""Render a :class:`Report` as self-contained HTML, Markdown, JSON, CSV or a DuckDB script.

Everything shown comes from the ledger, and the ledger's content comes from the web, so every
value is escaped for its output format (``html.escape`` for HTML, pipes and newlines for
Markdown). The HTML has no script, loads nothing (a Content-Security-Policy forbids it) and
carries its charts as inline SVG.
"""

from __future__ import annotations

import csv
import datetime as _dt
import decimal
import io
import json
import re
from html import escape
from typing import Any

from ..ledger import Ledger
from ..ledger.values import json_safe
from .model import Report, Section, Table
from .svg import bar_chart

FORMATS = ("html", "md", "json", "csv", "sql")


# -- values ----------------------------------------------------------------------------------


plain = json_safe


def cell_text(value: Any) -> str:
    """How a value reads in a table cell (HTML, Markdown, CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, decimal.Decimal):
        return cell_text(plain(value))
    if isinstance(value, _dt.datetime):
        v = value.astimezone(_dt.UTC) if value.tzinfo else value
        return v.strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    p = plain(value)
    return p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(_csv_cell(v) for v in value)
    p = plain(value)
    return p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)


def _label(column: str) -> str:
    return column.replace("_", " ")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
:root{--ink:#1d2430;--muted:#5b6573;--line:#d9dee5;--soft:#f4f6f9;--accent:#2f5d8a;
--draft:#8a5a00;--draftbg:#fff8e6}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif;color:var(--ink);background:#fff}
.wrap{max-width:1120px;margin:0 auto;padding:28px 32px 64px}
header.top{border-bottom:3px solid var(--accent);padding-bottom:14px;margin-bottom:18px}
header.top h1{font-size:26px;margin:0 0 6px;letter-spacing:-.01em}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;
color:var(--muted);margin:0}
.meta dt{font-weight:600}.meta dd{margin:0;overflow-wrap:anywhere}
nav.toc{background:var(--soft);border:1px solid var(--line);border-radius:6px;
padding:10px 16px;margin:0 0 24px;font-size:14px}
nav.toc ul{margin:4px 0 0;padding:0;list-style:none;columns:2;column-gap:32px}
nav.toc a{color:var(--accent);text-decoration:none}
h2{font-size:20px;margin:34px 0 4px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0 10px;max-width:78ch}
.serves{font-size:12.5px;color:var(--muted);margin:0 0 10px}
.serves b{color:var(--accent);font-weight:600}
figure{margin:14px 0 22px;padding:0}
figcaption{font-size:14px;font-weight:600;margin:0 0 6px}
figcaption .tid{display:inline-block;background:var(--accent);color:#fff;border-radius:3px;
padding:0 6px;margin-right:6px;font-size:12px}
figcaption a.q{font-weight:400;font-size:12px;color:var(--muted);margin-left:8px}
.note{font-size:12.5px;color:var(--muted);margin:4px 0}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;
overflow-wrap:break-word}
td.brk{overflow-wrap:anywhere;min-width:160px}
th{background:var(--soft);font-weight:600}
code.opt{font:inherit;white-space:nowrap}
td.id{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;
overflow-wrap:anywhere}
tr:last-child td{border-bottom:none}
.scroll.fit{width:fit-content;max-width:100%;min-width:50%}
table.kv th{text-align:left;width:230px;white-space:normal}
.rec{margin:0 0 10px}.rec table.kv th{width:200px}
.rec .scroll{width:100%}
.rec-title{font-size:12px;color:var(--muted);margin:0 0 3px}
.empty{color:var(--muted);font-style:italic;font-size:13px}
svg.chart{display:block;max-width:100%;height:auto;margin:4px 0 10px;
font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
svg.chart .label{fill:var(--ink)}svg.chart .value{fill:var(--muted)}
svg.chart .axis{stroke:var(--line)}
.draft{border:2px dashed var(--draft);background:var(--draftbg);border-radius:6px;
padding:4px 18px 8px;margin:10px 0}
.draft .banner{color:var(--draft);font-weight:700;letter-spacing:.04em;font-size:13px;
margin:8px 0}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 12px;
font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-x:auto;
white-space:pre-wrap;overflow-wrap:anywhere}
.appendix h3{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.role{font-family:system-ui,sans-serif;font-size:11px;color:var(--muted);font-weight:400;
margin-left:6px}
footer{margin-top:40px;font-size:12px;color:var(--muted);border-top:1px solid var(--line);
padding-top:10px}
section.appendix-sec,section.after-summary,#sources,#appendix{break-before:page}
@page{size:A4;margin:14mm 12mm}
@media print{nav.toc{display:none}.scroll{overflow:visible}body{font-size:10.5pt}
.wrap{max-width:none;padding:0}table{font-size:8.5pt}th,td{padding:3px 5px}
td.mono{font-size:8pt}table.kv th{width:34%}.rec table.kv th{width:34%}
figure{break-inside:auto}tr{break-inside:avoid}h2{break-after:avoid}
svg.chart{max-height:70mm;width:auto}}
"""

_MONO_HINTS = ("sha256", "hash", "decision_id", "run_id", "config_id", "head")
#: Command-line options (--deep) and `quoted commands` in report prose.
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _prose_html(text: str) -> str:
    """Escaped paragraph text where a command-line option never breaks at its hyphens."""
    out, pos = [], 0
    for m in _OPTION.finditer(text):
        out.append(escape(text[pos : m.start()]))
        out.append(f'<code class="opt">{escape(m.group(0))}</code>')
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def _td(column: str, value: Any, *, align: bool = True) -> str:
    text = escape(cell_text(value))
    if align and _is_number(value):
        return f'<td class="n">{text}</td>'
    if column == "run_id" or column.endswith("_run_id"):
        # A run id is one 25-character token: kept on one line, never broken letter by letter.
        return f'<td class="mono id">{text}</td>'
    if any(h in column for h in _MONO_HINTS):
        return f'<td class="mono">{text}</td>'
    if column.endswith(("url", "evidence", "description", "list")):
        # URLs from the web can be one unbroken word of any length.
        return f'<td class="brk">{text}</td>'
    return f"<td>{text}</td>"


def _kv(
    columns: list[str], row: tuple[Any, ...], cls: str = "scroll fit", skip_empty: bool = False
) -> str:
    body = "".join(
        f"<tr><th>{escape(_label(c))}</th>{_td(c, v, align=False)}</tr>"
        for c, v in zip(columns, row, strict=True)
        if not (skip_empty and cell_text(v) == "")
    )
    return f'<div class="{cls}"><table class="kv">{body}</table></div>'


def _html_table(t: Table) -> str:
    if t.kv:
        return _kv(t.columns, t.rows[0] if t.rows else (None,) * len(t.columns))
    if not t.rows:
        return '<p class="empty">No rows.</p>'
    rows = t.rows if t.max_rows is None else t.rows[: t.max_rows]
    if t.records_layout:
        blocks = "".join(
            f'<div class="rec"><p class="rec-title">{escape(t.id)}.{i}</p>'
            f"{_kv(t.columns, r, 'scroll', skip_empty=True)}</div>"
            for i, r in enumerate(rows, 1)
        )
        blocks = '<p class="note">Empty fields are omitted.</p>' + blocks
        more = (
            f'<p class="note">Showing {len(rows):,} of {len(t.rows):,} rows; '
            "--format json lists every row.</p>"
            if len(rows) < len(t.rows)
            else ""
        )
        return blocks + more
    head = "".join(f"<th>{escape(_label(c))}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(_td(c, v) for c, v in zip(t.columns, r, strict=True)) + "</tr>"
        for r in rows
    )
    more = ""
    if len(rows) < len(t.rows):
        more = (
            f'<p class="note">Showing {len(rows):,} of {len(t.rows):,} rows; '
            "--format json lists every row.</p>"
        )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{more}"
    )


def _html_chart(t: Table) -> str:
    c = t.chart
    if c is None or not t.rows:
        return ""
    recs = t.records()[: c.max_bars]
    labels = [cell_text(r[c.label]) or "(none)" for r in recs]
    values = [float(r[c.value] or 0) for r in recs]
    if not any(values):
        return ""
    return bar_chart(labels, values, title=t.title, colours=dict(c.colours))


def _html_figure(t: Table) -> str:
    cap = (
        f'<figcaption><span class="tid">{escape(t.id)}</span>{escape(t.title)}'
        f'<a class="q" href="#q-{escape(t.query)}">query: {escape(t.query)}.sql</a></figcaption>'
    )
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return (
        f'<figure id="{escape(t.id.lower())}" data-query="{escape(t.query)}">{cap}'
        f"{_html_chart(t)}{_html_table(t)}{note}</figure>"
    )


def _html_section(s: Section, cls: str = "") -> str:
    if s.appendix:
        cls = (cls + " appendix-sec").strip()
    attr = f' class="{cls}"' if cls else ""
    out = [f'<section id="s-{escape(s.id)}"{attr}><h2>{escape(s.title)}</h2>']
    if s.serves:
        out.append(f'<p class="serves"><b>Relevant to:</b> {escape(s.serves)}</p>')
    paras = "".join(f"<p>{_prose_html(p)}</p>" for p in s.paragraphs)
    if s.draft:
        out.append(
            '<div class="draft"><p class="banner">DRAFT FOR LEGAL REVIEW: not final text. '
            "Bracketed items must be completed by the legal team.</p>" + paras + "</div>"
        )
    else:
        out.append(paras)
    for line in s.code:
        out.append(f"<pre>{escape(line)}</pre>")
    out.extend(_html_figure(t) for t in s.tables)
    out.append("</section>")
    return "".join(out)


def _meta_items(r: Report) -> list[tuple[str, str]]:
    items = [("Generated", cell_text(r.generated_at))]
    if not r.public:
        items.append(("Ledger", r.ledger))
    items.append(("tdmscan", r.tool_version))
    for k, v in r.parameters.items():
        if v not in (None, [], ""):
            items.append((_label(k), cell_text(v)))
    return items


def _queries_title(r: Report) -> str:
    """The query appendix follows the report's own lettered appendices (A, B, ...)."""
    return f"Appendix {chr(ord('A') + sum(s.appendix for s in r.sections))}. Queries"


def to_html(r: Report) -> str:
    meta = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in _meta_items(r))
    toc = "".join(  # section titles carry their own numbers
        f'<li><a href="#s-{escape(s.id)}">{escape(s.title)}</a></li>' for s in r.sections
    )
    toc += f'<li><a href="#appendix">{escape(_queries_title(r))}</a></li>'
    appendix = "".join(
        f'<h3 id="q-{escape(q.name)}">{escape(q.name)}.sql<span class="role">{escape(q.role)}'
        f"</span></h3><pre>{escape(q.sql.strip())}</pre>"
        for q in r.queries
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(r.title)}</title><style>{_CSS}</style></head><body>"
        f'<div class="wrap"><header class="top"><h1>{escape(r.title)}</h1>'
        f'<dl class="meta">{meta}</dl></header>'
        f'<nav class="toc"><b>Contents</b><ul>{toc}</ul></nav><main>'
        + "".join(
            _html_section(s, "after-summary" if i and r.sections[i - 1].break_after else "")
            for i, s in enumerate(r.sections)
        )
        + f'<section id="appendix" class="appendix"><h2>{escape(_queries_title(r))}</h2>'
        "<p>"
        + _prose_html(
            "Every table cites the query that produced it. To rerun them in plain DuckDB, "
            "create the ledger views (tdmscan sql --views), then run the statements below in "
            "order, or get them as one script with --format sql."
        )
        + "</p>"
        + appendix
        + "</section></main>"
        f"<footer>Generated by tdmscan {escape(r.tool_version)}"
        + ("" if r.public else f" from the ledger at {escape(r.ledger)}")
        + ".</footer></div></body></html>\n"
    )


# -- Markdown --------------------------------------------------------------------------------


def _md_cell(value: Any) -> str:
    text = _md_text(cell_text(value))
    return " ".join(text.split()) if text else ""


def _md_text(text: str) -> str:
    # Web content must not turn into links, HTML or emphasis in a Markdown viewer.
    out = []
    for ch in text:
        out.append("\\" + ch if ch in "\\`*_{}[]<>#|" else ch)
    return "".join(out)


def _md_prose(text: str) -> str:
    """Paragraph text with command-line options as code spans (never split, never escaped)."""
    out, pos = [], 0
    for m in _OPTION.finditer(text):
        out.append(_md_text(text[pos : m.start()]))
        out.append(f"`{m.group(0)}`")
        pos = m.end()
    out.append(_md_text(text[pos:]))
    return "".join(out)


def _md_table(t: Table) -> list[str]:
    if t.kv:
        row = t.rows[0] if t.rows else (None,) * len(t.columns)
        lines = ["| | |", "|---|---|"]
        lines += [f"| {_label(c)} | {_md_cell(v)} |" for c, v in zip(t.columns, row, strict=True)]
        return lines
    if not t.rows:
        return ["*No rows.*"]
    rows = t.rows if t.max_rows is None else t.rows[: t.max_rows]
    lines = [
        "| " + " | ".join(_label(c) for c in t.columns) + " |",
        "|"
        + "|".join(
            "---:" if any(_is_number(r[i]) for r in rows) else "---" for i in range(len(t.columns))
        )
        + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(v) for v in r) + " |" for r in rows]
    if len(rows) < len(t.rows):
        lines += [
            "",
            f"*Showing {len(rows):,} of {len(t.rows):,} rows; --format json lists every row.*",
        ]
    return lines


def to_markdown(r: Report) -> str:
    out = [f"# {_md_text(r.title)}", ""]
    out += [f"- **{_md_text(k)}**: {_md_text(v)}" for k, v in _meta_items(r)]
    out.append("")
    for s in r.sections:
        out += [f"## {_md_text(s.title)}", ""]
        if s.serves:
            out += [f"*Relevant to: {_md_text(s.serves)}*", ""]
        if s.draft:
            out += [
                "> **DRAFT FOR LEGAL REVIEW: not final text.** Bracketed items must be "
                "completed by the legal team.",
                ">",
            ]
            for p in s.paragraphs:
                out += [f"> {_md_prose(p)}", ">"]
            out[-1] = ""
        else:
            for p in s.paragraphs:
                out += [_md_prose(p), ""]
        for line in s.code:
            out += ["```", line, "```", ""]
        for t in s.tables:
            out += [f"**{t.id}. {_md_text(t.title)}** (query: `{t.query}.sql`, see appendix)", ""]
            out += _md_table(t)
            if t.note:
                out += ["", f"*{_md_text(t.note)}*"]
            out.append("")
    out += [
        f"## {_queries_title(r)}",
        "",
        "Create the ledger views first (`tdmscan sql --views`), then run these in order.",
        "",
    ]
    for q in r.queries:
        out += [f"### {q.name}.sql ({q.role})", "", "```sql", q.sql.strip(), "```", ""]
    return "\n".join(out)


# -- JSON, CSV, SQL --------------------------------------------------------------------------


def to_json(r: Report) -> str:
    doc = {
        "report": r.kind,
        "title": r.title,
        "generated_at": plain(r.generated_at),
        **({} if r.public else {"ledger": r.ledger}),
        "tool_version": r.tool_version,
        "parameters": plain(r.parameters),
        "sections": [
            {
                "id": s.id,
                "title": s.title,
                "relevant_to": s.serves,
                "draft": s.draft,
                "appendix": s.appendix,
                "paragraphs": s.paragraphs,
                "code": s.code,
                "tables": [
                    {
                        "id": t.id,
                        "query": t.query,
                        "title": t.title,
                        "columns": t.columns,
                        "rows": [plain(rec) for rec in t.records()],
                    }
                    for t in s.tables
                ],
            }
            for s in r.sections
        ],
        "queries": [{"name": q.name, "role": q.role, "sql": q.sql} for q in r.queries],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_csv(r: Report) -> str:
    if r.csv_table is None:
        raise ValueError(f"the {r.kind} report has no CSV form")
    t = r.table(r.csv_table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(t.columns)
    for row in t.rows:
        w.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


def to_sql(r: Report) -> str:
    """One script for plain DuckDB: the ledger views, then every statement of the report."""
    views = Ledger(r.ledger, create=False).view_sql()
    out = [
        f"-- tdmscan {r.kind} report, generated {plain(r.generated_at)} by tdmscan "
        f"{r.tool_version}.",
        "-- Rerun with: duckdb < this-file.sql   (or paste into any DuckDB session).",
        "SET TimeZone = 'UTC';",
        "",
        "-- The ledger views (tdmscan sql --views).",
        views.strip(),
        "",
    ]
    for q in r.queries:
        out += [f"-- ==== {q.name}.sql ({q.role})", q.sql.strip(), ""]
    return "\n".join(out)


def render(r: Report, fmt: str) -> str:
    if fmt == "html":
        return to_html(r)
    if fmt == "md":
        return to_markdown(r)
    if fmt == "json":
        return to_json(r)
    if fmt == "csv":
        return to_csv(r)
    if fmt == "sql":
        return to_sql(r)
    raise ValueError(f"unknown format {fmt!r}")
