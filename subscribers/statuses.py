"""subscriber.status: the one vocabulary for code, schema comments, CSV and templates."""

from __future__ import annotations

from enum import StrEnum


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
