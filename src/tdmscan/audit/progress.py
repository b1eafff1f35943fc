"""Progress reporting for audits: a rich bar on a terminal, periodic plain lines otherwise.

The runner only bumps counters on a :class:`Counters` object; a reporter reads them at its
own pace (rich's refresh thread at <=10 Hz, or a line every ``interval`` seconds), so the hot
loop never formats anything.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Protocol

from ..types import VERDICTS

__all__ = ["Counters", "NullProgress", "PlainProgress", "Reporter", "RichProgress", "make_reporter"]


@dataclass(slots=True)
class Counters:
    """Live counts of one run (this process only; resumed rows are in ``skipped_rows``)."""

    total_rows: int = 0
    total_origins: int = 0
    skipped_rows: int = 0
    rows: int = 0
    origins: int = 0
    decisions: int = 0
    fetch_errors: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)  # own token, one per URL
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(1e-9, time.monotonic() - self.started)


class Reporter(Protocol):
    def start(self, c: Counters) -> None: ...
    def update(self) -> None: ...
    def stop(self) -> None: ...


def _verdict_text(c: Counters) -> str:
    return " ".join(f"{v}={c.verdicts.get(v, 0):,}" for v in VERDICTS)


class NullProgress:
    def start(self, c: Counters) -> None:
        pass

    def update(self) -> None:
        pass

    def stop(self) -> None:
        pass


class PlainProgress:
    """One line on stderr every ``interval`` seconds (batch jobs, pipes, CI logs)."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._c: Counters | None = None
        self._last = 0.0

    def start(self, c: Counters) -> None:
        self._c = c
        self._last = time.monotonic()
        self._line("started")

    def update(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._line("progress")

    def stop(self) -> None:
        self._line("done")

    def _line(self, what: str) -> None:
        c = self._c
        if c is None:
            return
        rate = c.rows / c.elapsed
        left = c.total_rows - c.rows
        eta = f"{left / rate:,.0f}s" if rate > 0 and what != "done" else "-"
        print(
            f"tdmscan audit {what}: urls {c.rows:,}/{c.total_rows:,} "
            f"origins {c.origins:,}/{c.total_origins:,} {rate:,.0f} urls/s "
            f"{c.origins / c.elapsed:,.1f} origins/s eta {eta} {_verdict_text(c)}",
            file=self.stream,
            flush=True,
        )


class RichProgress:
    """A rich progress display on stderr: URLs bar with rate and ETA, origins, verdict counts."""

    def __init__(self, console: object | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: object | None = None
        self._c: Counters | None = None

    def start(self, c: Counters) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._c = c
        p = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
            console=self.console,  # type: ignore[arg-type]
            refresh_per_second=4,
            transient=False,
        )
        self._urls = p.add_task("URLs", total=c.total_rows, rate="", extra="")
        self._origins = p.add_task("origins", total=c.total_origins, rate="", extra="")
        self._progress = p
        p.start()

    def update(self) -> None:
        p, c = self._progress, self._c
        if p is None or c is None:
            return
        el = c.elapsed
        p.update(  # type: ignore[attr-defined]
            self._urls,
            completed=c.rows,
            rate=f"{c.rows / el:,.0f}/s",
            extra=_verdict_text(c),
        )
        p.update(  # type: ignore[attr-defined]
            self._origins,
            completed=c.origins,
            rate=f"{c.origins / el:,.1f}/s",
            extra=f"fetch errors={c.fetch_errors:,}",
        )

    def stop(self) -> None:
        if self._progress is not None:
            self.update()
            self._progress.stop()  # type: ignore[attr-defined]
            self._progress = None


def make_reporter(quiet: bool, is_terminal: bool, interval: float = 10.0) -> Reporter:
    if quiet:
        return NullProgress()
    if is_terminal:
        return RichProgress()
    return PlainProgress(interval=interval)
