"""Sending the queue: every process fans new alert events out to the channels that hear them,
then sends each due channel's queue in event order, under a lease on the channel so that two
processes never send the same channel at once.

A 2xx answer delivers; anything else (an error status, a timeout, a refused connection) is
retried with exponential backoff until the delivery is ``Backoff.give_up`` old, when it is
marked ``failed`` and the channel moves on. A channel's later events wait behind its failing
one, so a receiver sees each channel's events in order. Every attempt is logged on the
delivery row (``GET /api/v1/alert-deliveries``).

Receivers should still treat ``X-Thrifty-Event-Id`` as an idempotency key: a process that
stops between a receiver's 2xx and writing it down sends that one delivery again when the
lease runs out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from thrifty import __version__
from thrifty.notify.events import Backoff, EventView, slack_body
from thrifty.notify.signing import signed_headers
from thrifty.storage import channels_repo, directory_repo
from thrifty.storage.channels_repo import DELIVERED, FAILED, PENDING, Channel, Delivery
from thrifty.storage.database import Database

log = logging.getLogger("thrifty")
LEASE = timedelta(seconds=60)  # longer than a send's timeout


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    http_status: int | None
    error: str | None


def request_for(
    channel: Channel, delivery: Delivery, event: EventView, now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"thrifty/{__version__}",
        "X-Thrifty-Event-Id": f"evt_{event.id}",
        "X-Thrifty-Event-Type": event.type,
        "X-Thrifty-Delivery-Id": str(delivery.id),
        "X-Thrifty-Delivery-Attempt": str(delivery.attempts + 1),
    }
    if channel.kind == "slack":
        return slack_body(event), headers
    body = event.encoded()
    if channel.secret:
        headers |= signed_headers(channel.secret, body, now)
    return body, headers


def send(http: httpx.Client, channel: Channel, body: bytes, headers: dict[str, str]) -> Attempt:
    try:
        response = http.post(channel.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return Attempt(False, None, f"{type(error).__name__}: {error}")
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code, None)
    return Attempt(
        False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
    )


class Sender:
    """One process's sender: fan out, then work through each due channel's queue."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        backoff: Backoff,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.backoff = backoff
        self.owner = secrets.token_hex(8)
        self.http = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def fan_out(self) -> int:
        if not self.database.read(channels_repo.has_unfanned):
            return 0
        facts = self.database.read(directory_repo.load_directory).facts
        return self.database.write(lambda c: channels_repo.fan_out(c, facts, self.clock()))

    def run_once(self) -> int:
        """Fan out and send what is due; returns how many deliveries succeeded."""
        self.fan_out()
        due = self.database.read(lambda c: channels_repo.due_channels(c, self.clock()))
        return sum(self.send_channel(channel_id) for channel_id in due)

    def send_channel(self, channel_id: str) -> int:
        db = self.database
        if not db.write(
            lambda c: channels_repo.claim(c, channel_id, self.owner, self.clock(), LEASE)
        ):
            return 0
        delivered = 0
        try:
            channel = db.read(lambda c: channels_repo.get_channel(c, channel_id))
            while channel.enabled:
                item = db.read(lambda c: channels_repo.head(c, channel_id))
                if item is None or item.next_attempt_at > self.clock():
                    break
                status = self.attempt(channel, item)
                if status == PENDING:  # to be retried: the channel's later events wait
                    break
                delivered += status == DELIVERED
                db.write(
                    lambda c: channels_repo.claim(c, channel_id, self.owner, self.clock(), LEASE)
                )
        finally:
            db.write(lambda c: channels_repo.release(c, channel_id, self.owner))
        return delivered

    def attempt(self, channel: Channel, item: Delivery) -> str:
        """Send one delivery and write down what happened; returns its status now:
        ``delivered``, ``pending`` (to be retried) or ``failed`` (given up)."""
        event = self.database.read(lambda c: channels_repo.event_views(c, [item.event_id])).get(
            item.event_id
        )
        now = self.clock()
        if event is None:
            status, outcome = FAILED, Attempt(False, None, "the event is gone")
        else:
            body, headers = request_for(channel, item, event, now)
            outcome = send(self.http, channel, body, headers)
            status = DELIVERED if outcome.ok else PENDING
        now = self.clock()
        retry_at = now + self.backoff.delay(item.attempts + 1)
        if status == PENDING and retry_at - item.created_at > self.backoff.give_up:
            status = FAILED
        self.database.write(
            lambda c: channels_repo.record_attempt(
                c, item.id, status=status, http_status=outcome.http_status, error=outcome.error,
                next_attempt_at=retry_at if status == PENDING else now, now=now,
            )
        )  # fmt: skip
        if status == FAILED:
            log.warning(
                "alert delivery %d to channel %s failed for good: %s",
                item.id,
                channel.id,
                outcome.error,
            )
        elif status == PENDING:
            log.info(
                "alert delivery %d to channel %s failed (%s); retrying",
                item.id,
                channel.id,
                outcome.error,
            )
        return status
