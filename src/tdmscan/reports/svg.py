"""Inline SVG bar charts: no script, no external font, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

DEFAULT_COLOUR = "#2f5d8a"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.2f}"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    colours: dict[str, str] | None = None,
    width: int = 720,
) -> str:
    """A horizontal bar chart as an ``<svg>`` element (values must be non-negative)."""
    colours = colours or {}
    bar_h, gap, label_w, value_w = 20, 8, 240, 80
    n = len(labels)
    height = gap + n * (bar_h + gap)
    top = max((float(v) for v in values), default=0.0) or 1.0
    span = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{label_w}" y1="0" x2="{label_w}" y2="{height}" class="axis"/>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = gap + i * (bar_h + gap)
        w = max(0.0, float(value)) / top * span
        colour = colours.get(label, DEFAULT_COLOUR)
        mid = y + bar_h / 2
        parts.append(
            f'<text x="{label_w - 8}" y="{mid:.1f}" class="label" text-anchor="end" '
            f'dominant-baseline="middle">{escape(_short(label, 36))}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2" '
            f'fill="{escape(colour)}"><title>{escape(label)}: {_num(float(value))}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{mid:.1f}" class="value" '
            f'dominant-baseline="middle">{_num(float(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
