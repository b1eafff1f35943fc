"""Run the report SQL shipped in ``tdmscan/reports/sql`` and keep the exact text executed.

Every statement a report runs (variable settings, setup views, figure queries) is recorded in
order, so the appendix and ``--format sql`` give a script that plain DuckDB reruns over the
ledger views with the same results.
"""

from __future__ import annotations

import datetime as _dt
from importlib import resources
from typing import Any

from .model import Query, Table


def sql_text(name: str) -> str:
    """The shipped SQL file ``name`` (without ``.sql``)."""
    return (resources.files("tdmscan.reports") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def sql_literal(value: Any) -> str:
    """A DuckDB literal for a report variable (values come from the command line)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, _dt.datetime):
        v = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return f"TIMESTAMPTZ '{v.astimezone(_dt.UTC).isoformat()}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]::VARCHAR[]"
    return "'" + str(value).replace("'", "''") + "'"


class QueryRunner:
    """Executes report SQL on a connection with the ledger views, recording each statement."""

    def __init__(self, con: Any, ledger_root: str) -> None:
        self.con = con
        # Same placeholder convention as the ledger's own view SQL.
        self._ledger = ledger_root.replace("'", "''")
        self.queries: list[Query] = []

    def variables(self, values: dict[str, Any]) -> None:
        lines = [f"SET VARIABLE {k} = {sql_literal(v)};" for k, v in values.items()]
        text = "\n".join(lines)
        for line in lines:
            self.con.execute(line)
        self.queries.append(Query("variables", "variables", text))

    def setup(self, name: str, text: str | None = None) -> None:
        """Run a setup file (CREATE TEMP VIEW ...), or generated setup ``text`` named ``name``."""
        sql = text if text is not None else sql_text(name)
        self.con.execute(sql)
        self.queries.append(Query(name, "setup", sql))

    def table(self, name: str, title: str, **kw: Any) -> Table:
        sql = sql_text(name).replace("{ledger}", self._ledger)
        rel = self.con.sql(sql)
        columns = list(rel.columns)
        rows = [tuple(r) for r in rel.fetchall()]
        if not any(q.name == name for q in self.queries):
            self.queries.append(Query(name, "table", sql))
        return Table(query=name, title=title, columns=columns, rows=rows, **kw)
