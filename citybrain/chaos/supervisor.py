"""One job of the fault suite run through its kill plan, as a process supervisor would: each
start is killed (SIGKILL) at the next crash point of the plan and started again."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

COMMON = ["after_poll", "after_process", "after_sink", "before_send", "after_send", "after_commit"]
PLAN: dict[str, list[str]] = {
    "vision": COMMON,
    "tickets": COMMON,
    "incidents": [*COMMON, "after_mark_sent"],
    # summary_after_model: the model answered, nothing written; summary_after_write: summary
    # and follow-ups written, the queue row not marked done
    "dispatch": [
        *COMMON,
        "after_mark_sent",
        "webhook_after_post",
        "summary_after_model",
        "summary_after_write",
    ],
}

# whose work a job waits for: a job whose upstream is done and that idles has nothing to come
UPSTREAM: dict[str, tuple[str, ...]] = {
    "vision": (),
    "tickets": (),
    "incidents": ("vision", "tickets"),
    "dispatch": ("incidents",),
}


@dataclass
class Supervisor:
    """Runs one job through its kill plan: each start dies at the next point (SIGKILL), a start
    that ends otherwise is started again; the last start runs until idle."""

    job: str
    env: dict[str, str]
    log: Path
    idle_s: float
    reached: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    failed_starts: int = 0
    producing: threading.Event = field(default_factory=threading.Event)  # upstream still at work
    done: threading.Event = field(default_factory=threading.Event)

    def run_once(self) -> None:
        """One start without a crash point, until idle (the drain)."""
        self.run(plan=[])

    def run(self, plan: list[str] | None = None) -> None:
        if plan is None:
            plan = [f"{self.job}.{p}" for p in PLAN[self.job]]
        i = 0
        while True:
            point = plan[i] if i < len(plan) else None
            env = dict(self.env)
            if point:
                env["CITYBRAIN_CRASH_AT"] = f"{point}:1"
            with self.log.open("a") as out:
                out.write(f"--- start {self.job} crash_at={point}\n")
                out.flush()
                rc = subprocess.call(
                    [sys.executable, "-m", "citybrain.chaos.job", self.job, str(self.idle_s)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if point is None:
                if rc == 0:
                    self.done.set()
                    return
                self.failed_starts += 1
            elif rc == -9:
                self.reached.append(point)
                i += 1
            elif rc == 0 and self.producing.is_set():
                continue  # idle before its work came: the same point again
            elif rc == 0:  # idle without reaching it: no more work of that kind
                self.not_reached.append(point)
                i += 1
            else:  # e.g. could not start while the database was down: same point again
                self.failed_starts += 1
                time.sleep(2)
            if self.failed_starts > 60:
                raise RuntimeError(f"{self.job} keeps failing; see {self.log}")
