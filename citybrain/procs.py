"""Child processes that cannot outlive their parent (Linux), so nothing is ever left running."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
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

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
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
