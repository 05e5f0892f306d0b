"""The states rows move through, one vocabulary for code, schema comments and templates.

StrEnum members are the strings stored in the database, so they compare equal to them.
Subscriber statuses live with their domain, in service/model/states.py.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """fetch_run.status. SKIPPED is reported for a topic never tried (arXiv down); its run,
    recorded before the first request, is stored as FAILED, so the next run asks its window."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # left running by a process that died; closed by the next run
    SAMPLE = "sample"  # the bundled sample, loaded when arXiv could not be reached
    SKIPPED = "skipped"


class DeliveryState(StrEnum):
    """delivery.state: due -> sending -> sent, or -> retrying -> sending ... -> failed; cancelled
    when the subscriber left before their turn."""

    DUE = "due"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class InboundKind(StrEnum):
    """inbound_message.kind: what a received message was taken for (service/inbound/reading.py)."""

    BOUNCE = "bounce"  # a permanent failure
    SOFT_BOUNCE = "soft-bounce"  # a temporary failure, counted
    COMPLAINT = "complaint"  # an ARF spam report
    UNSUBSCRIBE = "unsubscribe"  # a mail to the List-Unsubscribe address
    AUTO_REPLY = "auto-reply"  # RFC 3834 and vacation replies: kept, nothing changes
    UNRECOGNISED = "unrecognised"  # anything else: kept, nothing changes


# mail_queue.state: a sign-up from the form is requested, then held (no mail: blocked, or mailed a
# moment ago) or due; from due on, a queued mail moves through the same states as a delivery.
class MailState(StrEnum):
    REQUESTED = "requested"
    HELD = "held"
    # The same states as a delivery from here on (tests/model/test_states.py keeps them equal).
    DUE = "due"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # asked to subscribe, has not confirmed yet
    ACTIVE = "active"  # gets the weekly digest
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # the mail server refused the address for good
    COMPLAINED = "complained"  # reported our mail as spam (an ARF complaint): never mailed again
    BLOCKED = "blocked"  # by an admin; the address cannot subscribe again
    DELETED = "deleted"  # erased by an admin: the row stays for counts, without an address


# The statuses an admin or a CSV import may set (deleted is reached only by erasing).
SETTABLE = tuple(status for status in SubscriberStatus if status is not SubscriberStatus.DELETED)
