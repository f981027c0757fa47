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
    min_span_mib: float = 40.0,
) -> Path:
    """RSS per job process in MiB over the run, one panel per job with its own scale (the
    vision job's detector would flatten the others' lines on a shared one), each at least
    `min_span_mib` tall so a MiB of noise does not look like a climb; the warm-up the verdict
    leaves out shaded. Writes `path`, returns it."""
    jobs = list(series) or ["(no samples)"]
    cols = 2 if len(jobs) > 1 else 1
    rows = -(-len(jobs) // cols)
    fig = Figure(figsize=(10, 2.4 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False).flatten()
    for ax, job in zip(axes, jobs, strict=False):
        points = series.get(job, [])
        ys = [y for _, y in points]
        ax.plot([t for t, _ in points], ys, marker=".", linewidth=1)
        ax.axvspan(0, min(warm_up_s, send_end_s), color="grey", alpha=0.12)
        ax.axvline(send_end_s, color="grey", linestyle="--", linewidth=1)
        if ys:
            mid, span = (max(ys) + min(ys)) / 2, max(max(ys) - min(ys), min_span_mib) * 1.1
            ax.set_ylim(max(0.0, mid - span / 2), mid + span / 2)
        ax.set_title(job, fontsize=10)
        ax.set_ylabel("RSS, MiB")
        ax.grid(alpha=0.3)
    for ax in axes[len(jobs) :]:
        ax.set_visible(False)
    for ax in axes[-cols:]:
        ax.set_xlabel("seconds since sending began")
    fig.suptitle(f"{title}\nresident memory per job (shaded: warm-up; dashed: sending stops)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
