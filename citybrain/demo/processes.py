"""The demo's processes: the broker, the model server and the children running jobs and web.

Kept apart from what the demo shows so that starting and, above all, stopping every one of
them on the way out is one small thing to read and get right.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from citybrain.config import Settings
from citybrain.procs import die_with_parent
from citybrain.streams.broker import EmbeddedBroker

log = logging.getLogger("citybrain.demo")  # the demo logs as one


def embedded_model_server(settings: Settings, workdir: Path) -> tuple[Any, Settings]:
    """The embedded model server, shared by every dispatch worker (None: not embedded), and
    the settings that point at it."""
    llm = settings.llm
    if not (llm.enabled and llm.embedded):
        return None, settings
    from citybrain.llm.server import EmbeddedLLMServer

    server = EmbeddedLLMServer(llm, log_path=workdir / "llm.log")
    # children use it as a plain endpoint rather than each starting their own; it serves
    # one call at a time, which they are told (it has no /props to say so itself)
    return server, settings.model_copy(
        update={
            "llm": llm.model_copy(
                update={
                    "embedded": False,
                    "endpoint": server.endpoint,
                    "parallel": llm.parallel or server.slots,
                }
            )
        }
    )


def trap_signals(on_signal: Callable[[], None]) -> dict[int, Any]:
    """SIGINT and SIGTERM call `on_signal` (main thread only); returns the handlers replaced."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        on_signal()

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    return previous


def restore_signals(previous: dict[int, Any]) -> None:
    """Put back the handlers `trap_signals` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class Supervisor:
    """Starts the broker, the model server and the child processes; stops them all."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._broker: EmbeddedBroker | None = None
        self._model_server: Any = None

    def start_services(self, broker: EmbeddedBroker, model_server: Any) -> None:
        """Start the broker, then the model server if there is one; `stop` stops both."""
        self._broker, self._model_server = broker, model_server
        broker.start()
        if model_server is not None:
            model_server.start()

    def spawn(self, name: str, args: list[str]) -> None:
        """`python -m citybrain ARGS` as child NAME, its output in NAME.log."""
        out = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (owned by the child)
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "citybrain", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops children in order
            preexec_fn=die_with_parent,
        )

    def dead(self) -> list[str]:
        """The children that have exited."""
        return [n for n, p in self.children.items() if p.poll() is not None]

    def stop(self) -> dict[str, int | None]:
        """Stop the children, then the broker and the model server; each child's exit code."""
        exits = self._stop_children()
        if self._broker is not None:
            self._broker.stop()
        if self._model_server is not None:
            self._model_server.stop()
        return exits

    def _stop_children(self) -> dict[str, int | None]:
        """SIGTERM to all, then wait; returns each child's exit code."""
        for p in self.children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, p in self.children.items():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                p.kill()
                p.wait(5)
        return {name: p.returncode for name, p in self.children.items()}
