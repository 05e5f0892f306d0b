"""`paperboy sender` (the Procfile's sender): sends due deliveries in a loop, beside the scheduler.

The scheduler sends each week's digest when it queues it and sweeps what is due every 5 minutes;
sender processes add sending capacity and pick up within seconds what is due: rows queued from the
admin pages, retries whose time has come, and the rows of a sender that died once their lease
(PAPERBOY_SEND_LEASE) has run out. Any number may run at once on one database: each claims its
own rows (service/store/deliveries.py), so none sends a delivery another one holds.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from service import store
from service.errors import first_line
from service.outbound.digests import send_due
from service.runtime import Runtime

log = logging.getLogger("paperboy.sender")

# How long the loop waits between two looks for due deliveries.
SEND_EVERY = timedelta(seconds=5)


class SendWorker:
    """Sends what is due, waits SEND_EVERY, again, until stop()."""

    def __init__(self, runtime: Runtime, every: timedelta = SEND_EVERY):
        self.runtime = runtime
        self.every = every
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        log.info(
            "sender: sending due deliveries every %g s; a dead sender's deliveries are taken over "
            "%d s after it claimed them (PAPERBOY_SEND_LEASE)",
            self.every.total_seconds(),
            self.runtime.config.send_lease,
        )
        failing = None  # the trouble last logged: an outage is logged once, not at every turn
        while not self.stopping.is_set():
            try:
                results = send_due(self.runtime, stopping=self.stopping)
                trouble = next((stats.error for stats in results if stats.error), None)
            # The database is down (or was never reached): wait for it rather than die.
            except store.StoreError as error:
                trouble = str(error)
            except store.DatabaseError as error:
                trouble = store.describe(error)
            except Exception as error:  # anything else (a bug, a broken digest): say where, go on
                trouble = f"{type(error).__name__}: {first_line(error)}"
                if trouble != failing:
                    log.exception("sender: sending failed")
            if trouble is not None and trouble != failing:
                log.error("sender: %s; trying again every %g s", trouble, self.every.total_seconds())
            elif trouble is None and failing is not None:
                log.info("sender: sending again")
            failing = trouble
            self.stopping.wait(self.every.total_seconds())
        log.info("sender: stopped")

    def stop(self) -> None:
        self.stopping.set()
