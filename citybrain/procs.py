"""Child processes that cannot outlive their parent (Linux), so nothing is ever left running."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn for Popen: the kernel sends SIGTERM to the child when its parent dies, even
    if the parent is killed with SIGKILL and never runs its own clean-up."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ChildServer:
    """A server run as a child process of ours. Subclasses start it (`start()` returns self once
    it answers); stopping — SIGTERM, then SIGKILL if it hangs — and `with` are shared."""

    proc: subprocess.Popen[bytes] | None = None
    stop_timeout_s = 10.0  # how long a graceful shutdown may take before SIGKILL

    def start(self) -> Self:
        raise NotImplementedError

    def _spawn(
        self, args: list[str], log_path: Path | None, env: Mapping[str, str] | None = None
    ) -> None:
        """Start the child in its own session, tied to our life, output to `log_path`."""
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]

    def _wait_ready(
        self, ready: Callable[[], bool], timeout_s: float, fail: Callable[[str], Exception]
    ) -> None:
        """Poll `ready()` until it is true; `fail(why)` is raised if the child exits first or
        the time runs out (the child is stopped then)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                raise fail(f"exited with {code} at start")
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise fail(f"not ready within {timeout_s}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL at once, as a crash would: no shutdown of its own (fault injection)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
