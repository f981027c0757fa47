"""Dispatcher actions left in the web's outbox go out in the background.

An action taken while Kafka was down is stored unsent (`emitted=False`). Waiting for the next
dispatcher's action to carry it out could take hours; this thread tries every
`web.outbox_drain_s` instead, so a decision reaches the pipelines minutes after Kafka is back.
The incident job ignores a resolve older than the incident's last evidence, so even a late one
cannot close what changed since.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class OutboxDrain:
    """A daemon thread that calls `emit` every `every_s` seconds until stopped."""

    def __init__(self, emit: Callable[[], None], every_s: float) -> None:
        self.emit = emit
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OutboxDrain:
        self._thread = threading.Thread(target=self._loop, name="web-outbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every_s + 10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.emit()
            except Exception:  # the store is down too: try again next round
                log.exception("web outbox: drain round failed")
