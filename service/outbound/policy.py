"""How the send engine (service/outbound/engine.py) paces, retries and judges refusals, for every
kind of mail: the one place of the retry and bounce policy.

Retry policy: a 4xx reply or a dropped connection puts the row back as `retrying`, due again
after 30 s, 60 s, 120 s, ... (at most an hour), until PAPERBOY_SMTP_MAX_ATTEMPTS tries are used;
then it is `failed`. A 5xx is `failed` at once. Bounce policy: a 5xx that refuses the address
(enhanced status 5.1.x or 5.2.1; a reply without one: any at RCPT TO, 550/551/553 after DATA)
also marks the subscriber bounced after that one refusal; other 5xx (size, content, 5.7.x
policy such as relaying denied or a DMARC rejection) fail only that row. A server that cannot
be reached at all, or that refuses our own envelope sender with a 5xx at MAIL FROM, stops the
run with every unsent row still due, so a rerun sends them. Also here: the rate limit and the
addresses plain SMTP can carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from service.clock import Clock
from service.model.states import DeliveryState
from service.outbound.transport import ConnectError, SenderRefused, SendError

# Not a state: the claimed row goes back to due, its attempt not counted.
RELEASED = "released"

FIRST_RETRY = 30.0
LAST_RETRY = 3600.0
# 5xx codes after DATA that speak of the address rather than of the message.
ADDRESS_REFUSALS = {550, 551, 553}
# RFC 3463 enhanced status codes: 5.1.x is a bad address, 5.2.1 a disabled mailbox. Others, 5.7.x
# above all (relaying denied, DMARC or spam rejections), are about the sender or the message.
ENHANCED_STATUS = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def refuses_address(error: SendError) -> bool:
    """Whether a permanent refusal says the subscriber's address is bad (the bounce policy)."""
    status = ENHANCED_STATUS.match(error.reply or "")
    if status:
        return status.group(1) == "5" and (status.group(2) == "1" or status.group(2, 3) == ("2", "1"))
    return error.recipient_refused or error.code in ADDRESS_REFUSALS


@dataclass(frozen=True)
class Outcome:
    """What a refused or failed send means: the delivery's next state (retrying, failed, or
    released: due again), the error kept with it, whether the address bounces, and, when the
    whole run must stop, the line that says why."""

    state: str
    error: str = ""
    bounce: bool = False
    stop_run: str = ""


def classify(error: SendError, attempts: int, max_attempts: int) -> Outcome:
    """The outcome of a send that raised `error` on the delivery's `attempts`-th try."""
    if isinstance(error, ConnectError):
        # Nothing went out: stop, and leave this and every other unsent delivery due.
        return Outcome(RELEASED, stop_run=f"{error}; the unsent deliveries stay due, rerun to send them")
    if isinstance(error, SenderRefused) and error.permanent:
        # Every message would be refused the same way, and it says nothing about the
        # subscriber: stop with the rows due instead of failing and bouncing them all.
        return Outcome(
            RELEASED,
            stop_run=f"{error}; check PAPERBOY_MAIL_FROM and PAPERBOY_BOUNCE_ADDRESS, "
            "then rerun: the unsent deliveries stay due",
        )
    if error.permanent:
        return Outcome(DeliveryState.FAILED, str(error), bounce=refuses_address(error))
    if attempts >= max_attempts:
        return Outcome(DeliveryState.FAILED, f"{error} (gave up after {attempts} attempts)")
    return Outcome(DeliveryState.RETRYING, str(error))


def retry_delay(attempts: int) -> float:
    """Seconds before the next try of a delivery that has had `attempts` tries."""
    return min(FIRST_RETRY * 2.0 ** max(attempts - 1, 0), LAST_RETRY)


def ascii_address(email: str) -> str | None:
    """The address as plain SMTP carries it (an internationalized domain in its xn-- form), or
    None when the local part is not ASCII and only an SMTPUTF8 server could take it."""
    if email.isascii():
        return email
    try:
        return validate_email(email, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return None


class RateLimiter:
    """Spaces sends at least 1/rate seconds apart across all connections; rate 0 means no limit."""

    def __init__(self, rate: float, clock: Clock):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.next_slot: float | None = None

    async def wait(self) -> None:
        if not self.interval:
            return
        now = self.clock.monotonic()
        slot = max(now, self.next_slot if self.next_slot is not None else now)
        self.next_slot = slot + self.interval
        if slot > now:
            await self.clock.sleep(slot - now)
