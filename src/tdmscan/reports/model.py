"""What a report is, independent of how it is rendered: sections of tables, each table tied to
the SQL that produced it, plus the exact SQL (variables, setup, queries) to rerun it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Chart:
    """A horizontal bar chart of one table: one bar per row, ``label`` against ``value``."""

    label: str
    value: str
    max_bars: int = 15
    #: Colour per label (verdict charts); other bars use the default colour.
    colours: tuple[tuple[str, str], ...] = ()


@dataclass
class Table:
    """The result of one query as shown in a report.

    ``query`` names the SQL file (without ``.sql``) the rows came from; ``id`` is the figure
    number (``T3``), assigned when the report is assembled. ``kv`` tables hold one row and are
    shown as label/value pairs.
    """

    query: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    id: str = ""
    note: str | None = None
    chart: Chart | None = None
    kv: bool = False
    #: Wide tables read better as one label/value block per row.
    records_layout: bool = False
    max_rows: int | None = 200  # display cap for html/md; json and csv get every row

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def one(self) -> dict[str, Any]:
        """The single row of a one-row table (an empty dict when the query returned none)."""
        return self.records()[0] if self.rows else {}

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


@dataclass
class Section:
    id: str
    title: str
    #: Which Code of Practice measure / Template field the section serves.
    serves: str = ""
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    #: Draft wording for legal review (rendered in a marked box, never as final text).
    draft: bool = False
    #: Preformatted lines (commands to run), shown as code.
    code: list[str] = field(default_factory=list)
    #: Detail moved after the main text (per-token figures, samples); starts a new page.
    appendix: bool = False
    #: In print, what follows starts on a new page (the evidence report's summary).
    break_after: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """One SQL statement as executed: ``role`` is variables | setup | table."""

    name: str
    role: str
    sql: str


@dataclass
class Report:
    kind: str
    title: str
    generated_at: datetime
    ledger: str
    tool_version: str
    parameters: dict[str, Any]
    sections: list[Section] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    #: The query whose table is the report's CSV form (None: no CSV form).
    csv_table: str | None = None
    #: Published as is (the crawler page): never print the local ledger path.
    public: bool = False

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def table(self, query: str) -> Table:
        for t in self.tables():
            if t.query == query:
                return t
        raise KeyError(query)

    def number_tables(self) -> None:
        for i, t in enumerate(self.tables(), 1):
            t.id = f"T{i}"
