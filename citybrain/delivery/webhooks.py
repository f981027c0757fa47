"""Per-department webhook senders over the store's outbox of deliveries.

The dispatch job writes a delivery row in the same transaction as the dispatch, so nothing is
lost if a process dies; each department then has its own sender thread, so one department's
endpoint being down delays only that department. Each POST carries the dispatch id as the
`Idempotency-Key` header (a receiver that sees it twice does the work once); failures back off
exponentially (by default for about four hours), and after `max_attempts` the delivery is
dead-lettered: its DLQ record goes into the dispatch job's outbox in the transaction that marks
it dead, so a crash cannot lose it; `citybrain deliveries redrive` queues dead ones again. A
department's deliveries go in the order they were written: one that failed holds the ones
after it (`model_step.due_deliveries`), so a summary never arrives before its dispatch.
Dispatch workers scaled out share the outbox: each attempt is claimed first, so only one worker
sends it. Every attempt is signed with the department's secret(s) and the time of sending
(`signing.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from citybrain.config.dispatch import DispatchSettings
from citybrain.core.city import City
from citybrain.delivery.signing import sign
from citybrain.store import Store
from citybrain.store.models import DeliveryRow
from citybrain.store.outbox import Outbox
from citybrain.streams.crash import crash_point
from citybrain.streams.records import Output

log = logging.getLogger(__name__)

# Builds the DLQ record of a delivery that ran out of attempts (the stage knows the topics).
DeadLetter = Callable[[DeliveryRow, str], Output]


def webhook_urls(city: City, settings: DispatchSettings) -> dict[str, str]:
    """Department -> URL: the runtime config over the city file's `webhook`."""
    urls = {d.id: d.webhook for d in city.departments if d.webhook}
    urls.update(settings.webhooks)
    return urls


def insecure_webhooks(urls: Mapping[str, str], settings: DispatchSettings) -> list[str]:
    """Why these webhooks may not be used (empty: they may). Over plain http a dispatch (its
    summary, the citizens' redacted words) can be read and changed on the way; without a
    signing secret the receiver cannot tell a forged dispatch from ours. Only the explicit
    `dispatch.allow_insecure_webhooks` (a local test receiver) accepts either."""
    if settings.allow_insecure_webhooks:
        return []
    problems = []
    for department, url in sorted(urls.items()):
        if urlsplit(url).scheme != "https":
            problems.append(
                f"dispatch.webhooks: {department}: {url} is not https "
                "(dispatch.allow_insecure_webhooks: true for a local test receiver)"
            )
        if not settings.webhook_secrets.get(department):
            problems.append(
                f"dispatch.webhook_secrets: {department} has none: its webhooks would go "
                "unsigned (set CITYBRAIN_DISPATCH__WEBHOOK_SECRETS)"
            )
    return problems


def backoff(settings: DispatchSettings, attempts: int) -> float:
    return float(min(settings.backoff_max_s, settings.backoff_s * 2 ** max(0, attempts - 1)))


class DepartmentSender:
    """Sends one department's due deliveries in order; never blocks another department."""

    def __init__(
        self,
        department: str,
        store: Store,
        settings: DispatchSettings,
        dead_letter: DeadLetter | None = None,
        outbox: Outbox | None = None,
        stats: dict[str, int] | None = None,
    ) -> None:
        self.department = department
        self.store = store
        self.settings = settings
        self.dead_letter = dead_letter
        self.outbox = outbox
        self.stats = stats if stats is not None else {}
        self.http = httpx.Client(timeout=settings.webhook_timeout_s)
        self.secrets = list(settings.webhook_secrets.get(department, []))
        if not self.secrets:
            log.warning("%s: no dispatch.webhook_secrets entry: webhooks go unsigned", department)

    def send_due(self) -> int:
        """One pass over what is due; returns how many were delivered."""
        delivered = 0
        for row in self.store.due_deliveries(self.department):
            if self._send(row):
                delivered += 1
            else:
                break  # keep the department's order: later ones wait for this one's retry
        return delivered

    def _send(self, row: DeliveryRow) -> bool:
        lease = timedelta(seconds=2 * self.settings.webhook_timeout_s + 1)
        if not self.store.claim_delivery(row.id, row.next_at, datetime.now(UTC) + lease):
            self._count("webhook.claimed_elsewhere")
            return False  # another dispatch worker is sending it; the order waits for them
        attempts = row.attempts + 1
        body = row.payload.encode()
        try:
            resp = self.http.post(
                row.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": row.id,
                    "X-Citybrain-Attempt": str(attempts),
                    **sign(self.secrets, body),  # signed per attempt: a fresh timestamp
                },
            )
            ok, error = resp.is_success, f"HTTP {resp.status_code}"
        except httpx.HTTPError as e:
            ok, error = False, f"{type(e).__name__}: {e}"[:300]
        now = datetime.now(UTC)
        if ok:
            crash_point("dispatch.webhook_after_post")  # fault injection: received, not marked
            self.store.mark_delivery(row.id, "delivered", attempts, now)
            self._count("webhook.delivered")
            return True
        if attempts >= self.settings.max_attempts:
            dlq = [self.dead_letter(row, error)] if self.dead_letter else []
            self.store.mark_delivery(row.id, "dead", attempts, now, error, self.outbox, dlq)
            self._count("webhook.dead")
            return True  # dead-lettered: the department's queue moves on
        wait = backoff(self.settings, attempts)
        self.store.mark_delivery(row.id, "pending", attempts, now + timedelta(seconds=wait), error)
        self._count("webhook.retries")
        log.info(
            "%s: delivery %s failed (%s); retry in %.1fs", self.department, row.id, error, wait
        )
        return False

    def _count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def close(self) -> None:
        self.http.close()


class WebhookDispatcher:
    """One daemon thread per department with a URL, polling the outbox until stopped."""

    def __init__(
        self,
        store: Store,
        urls: dict[str, str],
        settings: DispatchSettings,
        dead_letter: DeadLetter,
        outbox: Outbox,
        stats: dict[str, int] | None = None,
    ) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.senders = [
            DepartmentSender(d, store, settings, dead_letter, outbox, stats) for d in sorted(urls)
        ]
        self.threads: list[threading.Thread] = []

    def start(self) -> WebhookDispatcher:
        for sender in self.senders:
            t = threading.Thread(
                target=self._loop, args=(sender,), name=f"webhook-{sender.department}", daemon=True
            )
            t.start()
            self.threads.append(t)
        return self

    def _loop(self, sender: DepartmentSender) -> None:
        while not self.stop_event.is_set():
            try:
                sender.send_due()
            except Exception:  # a store hiccup must not end the department's sender
                log.exception("%s: webhook pass failed", sender.department)
            self.stop_event.wait(self.settings.poll_s)

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(5)
        for sender in self.senders:
            sender.close()
