"""Figures and the table they are printed in: each beside its floor, measured in the same run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.load import Load


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    # The same work done the least way possible (a bare endpoint, a raw round trip), measured
    # on the same machine in the same run: absolute numbers move, ratios much less.
    floor: float | None = None
    floor_name: str = ""
    higher_is_better: bool = False  # latencies: lower is better; throughputs set True

    @property
    def ratio(self) -> float | None:
        """Of the floor's performance we reach (1.0: as fast as the floor)."""
        if self.floor is None or not self.value or not self.floor:
            return None
        return self.value / self.floor if self.higher_is_better else self.floor / self.value


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)


def _number(value: float, unit: str) -> str:
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}" if value >= 10 else f"{value:,.2f} {unit}"


def table(figures: list[Figure]) -> str:
    rows = [("figure", "measured", "floor", "of floor", "floor is")]
    for figure in figures:
        rows.append(
            (
                figure.name,
                _number(figure.value, figure.unit),
                _number(figure.floor, figure.unit) if figure.floor is not None else "",
                f"{figure.ratio:.2f}" if figure.ratio is not None else "",
                figure.floor_name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:4], widths[1:4], strict=True)
        ]
        lines.append("  ".join([*cells, row[4]]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths[:4]) + "  " + "-" * widths[4])
    return "\n".join(lines)


def cpu_figure(name: str, ours: Load, floor: Load | None, floor_name: str) -> Figure:
    """CPU per request, ours (with where it went) against the floor's."""
    split = " + ".join(
        f"{process} {seconds * 1000 / max(ours.requests, 1):.2f}"
        for process, seconds in ours.cpu.items()
    )
    return Figure(
        f"{name}, CPU per request ({split})", ours.cpu_ms_per_request(), "ms",
        floor.cpu_ms_per_request() if floor else None, floor_name,
    )  # fmt: skip


def rate_figure(name: str, ours: Load, floor: float, floor_name: str) -> Figure:
    return Figure(name, ours.rate, "req/s", floor, floor_name, higher_is_better=True)
