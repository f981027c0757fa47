"""The load run's plots: lag and resident memory, one line per job over the run, the end of
sending marked, so the page in docs/ shows at a glance whether both stayed flat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure  # a bare Figure renders with Agg: no display, no pyplot


def plot_lag(
    series: Mapping[str, Sequence[tuple[float, int]]],
    send_end_s: float,
    path: Path,
    title: str,
) -> Path:
    """Write the PNG to `path` and return it."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.subplots()
    for job, points in series.items():
        ax.plot([t for t, _ in points], [y for _, y in points], marker=".", label=job)
    ax.axvline(send_end_s, color="grey", linestyle="--", linewidth=1, label="sending stops")
    ax.set_xlabel("seconds since sending began")
    ax.set_ylabel("consumer lag (records not committed)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def plot_memory(
    series: Mapping[str, Sequence[tuple[float, float]]],
    send_end_s: float,
    warm_up_s: float,
    path: Path,
    title: str,
) -> Path:
    """RSS per job process in MiB over the run, the warm-up the verdict leaves out shaded, so
    the soak's page shows at a glance whether memory stayed flat. Writes `path`, returns it."""
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.subplots()
    for job, points in series.items():
        ax.plot([t for t, _ in points], [y for _, y in points], marker=".", label=job)
    ax.axvspan(0, min(warm_up_s, send_end_s), color="grey", alpha=0.12, label="warm-up")
    ax.axvline(send_end_s, color="grey", linestyle="--", linewidth=1, label="sending stops")
    ax.set_xlabel("seconds since sending began")
    ax.set_ylabel("resident memory (RSS, MiB)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
