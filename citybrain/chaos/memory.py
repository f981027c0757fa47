"""A process's resident memory, read from /proc/<pid>/status (VmRSS) as the kernel counts it,
so the soak needs no extra dependency and measures the job processes from outside, like the
lag: a job that grows shows it whether or not its own counters still report."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def vm_rss_mib(status: str) -> float | None:
    """The VmRSS line of a /proc/<pid>/status text, in MiB (None when absent, e.g. a zombie)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit.lower() != "kb":
                raise ValueError(f"unexpected VmRSS unit: {line!r}")
            return int(value) / 1024.0
    return None


def rss_mib(pid: int, proc: Path = PROC) -> float | None:
    """Resident memory of a running process in MiB; None once it has gone."""
    try:
        return vm_rss_mib((proc / str(pid) / "status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None
