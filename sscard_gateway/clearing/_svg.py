"""A chart of the net settlement between regions, as SVG written by hand.

Why by hand: the chart is two sets of horizontal bars, a few dozen lines of
SVG; a plotting library would be the heaviest dependency of the project
for it. The output depends only on the report (no dates, no random ids),
so the example in ``docs/`` can be checked by a test.

Top: every region's net position, a bar right of the axis for what it
receives net, left for what it pays. Bottom: the settlement instructions,
one per region pair, ``payer -> payee``, longest first. Amounts in yuan
with two decimals (computed from integer fen).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape

from ..ids import format_yuan
from ._clearing import ClearingReport

__all__ = ["net_settlement_svg"]

_WIDTH = 760
_ROW = 26
_CHAR = 7.6  # width of a 13 px character, roughly
_RECEIVE = "#2e7d32"
_PAY = "#c62828"
_ARROW = "#1565c0"


def _text(
    x: float,
    y: float,
    body: str,
    *,
    anchor: str = "start",
    size: int = 13,
    weight: str = "normal",
    fill: str = "#212121",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{fill}">{escape(body)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" height="{h:.1f}" fill="{fill}"/>'
    )


def net_settlement_svg(
    report: ClearingReport,
    *,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> str:
    """Draw the report's net positions and instructions as an SVG document.

    Args:
        report: a clearing report.
        labels: display names by region code (``{"110000": "Beijing"}``).
        title: the heading; by default the settlement date.

    Returns:
        The SVG document (UTF-8 text).
    """
    labels = labels or {}
    date = report.settlement_date
    heading = title or f"Net settlement, {date[:4]}-{date[4:6]}-{date[6:]}"

    def name(region: str) -> str:
        return f"{labels[region]} ({region})" if region in labels else region or "-"

    positions = sorted(report.positions, key=lambda p: (-p.net, p.region))
    longest = max((len(name(p.region)) for p in report.positions), default=8)
    label = 24 + _CHAR * longest  # the right edge of the region names
    instructions = sorted(report.net, key=lambda n: (-n.amount, n.payer, n.payee))
    top = 64
    positions_h = max(len(positions), 1) * _ROW
    second = top + positions_h + 56
    height = second + max(len(instructions), 1) * _ROW + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif">',
        _rect(0, 0, _WIDTH, height, "#ffffff"),
        _text(16, 28, heading, size=17, weight="bold"),
        _text(
            16,
            50,
            "Net position by region (receives right, pays left), CNY",
            size=12,
            fill="#616161",
        ),
    ]
    # net positions: a diverging bar chart around a centre axis
    biggest = max((abs(p.net) for p in positions), default=0) or 1
    axis = label + (_WIDTH - label - 20) / 2
    half = (_WIDTH - label - 20) / 2 - 70
    parts.append(
        f'<line x1="{axis:.1f}" y1="{top - 6}" x2="{axis:.1f}" y2="{top + positions_h}" '
        'stroke="#9e9e9e" stroke-width="1"/>'
    )
    if not positions:
        parts.append(_text(axis, top + 17, "no cross-region settlement", anchor="middle"))
    for i, p in enumerate(positions):
        y = top + i * _ROW
        length = half * abs(p.net) / biggest
        parts.append(_text(label - 10, y + 17, name(p.region), anchor="end"))
        amount = ("+" if p.net > 0 else "") + format_yuan(p.net)
        if p.net >= 0:
            parts.append(_rect(axis, y + 4, length, _ROW - 8, _RECEIVE))
            parts.append(_text(axis + length + 6, y + 17, amount, fill=_RECEIVE))
        else:
            parts.append(_rect(axis - length, y + 4, length, _ROW - 8, _PAY))
            parts.append(_text(axis - length - 6, y + 17, amount, anchor="end", fill=_PAY))
    # instructions: payer -> payee, one per pair
    parts.append(
        _text(
            16,
            second - 14,
            "Settlement instructions: payer pays payee, CNY",
            size=12,
            fill="#616161",
        )
    )
    largest = max((n.amount for n in instructions), default=0) or 1
    span = max(_WIDTH - 2 * label - 120, 60.0)
    if not instructions:
        parts.append(_text(_WIDTH / 2, second + 17, "nothing to pay", anchor="middle"))
    for i, n in enumerate(instructions):
        y = second + i * _ROW
        length = span * n.amount / largest
        x0 = label + 20
        parts.append(_text(label + 10, y + 17, name(n.payer), anchor="end"))
        parts.append(_rect(x0, y + 8, length, _ROW - 16, _ARROW))
        tip = x0 + length
        parts.append(
            f'<polygon points="{tip:.1f},{y + 4} {tip + 10:.1f},{y + _ROW / 2:.1f} '
            f'{tip:.1f},{y + _ROW - 4}" fill="{_ARROW}"/>'
        )
        parts.append(_text(tip + 16, y + 17, f"{name(n.payee)}: {format_yuan(n.amount)}"))
    balance = "balanced" if report.balanced else "NOT BALANCED"
    parts.append(
        _text(
            16,
            height - 14,
            f"Sum of net positions: {format_yuan(report.net_sum)} ({balance})",
            size=12,
            fill="#616161",
        )
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
