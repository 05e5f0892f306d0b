"""The outcome rule: what each kind of refusal means for a delivery, in one table."""

from __future__ import annotations

import pytest

from service.outbound.policy import classify
from service.outbound.transport import ConnectError, SenderRefused, SendError

MAX = 5


@pytest.mark.parametrize(
    "error, attempts, state, bounce, stops",
    [
        (ConnectError("smtp: cannot connect to mx:25"), 1, "released", False, "the unsent deliveries stay due"),
        (SenderRefused("smtp: sender refused: 550", True, 550), 1, "released", False, "check PAPERBOY_MAIL_FROM"),
        (SenderRefused("smtp: sender refused: 451", False, 451), 1, "retrying", False, ""),
        (
            SendError("smtp: recipient refused", True, 550, recipient_refused=True, reply="5.1.1 no such user"),
            1,
            "failed",
            True,
            "",
        ),
        (SendError("smtp: 554 spam", True, 554, reply="5.7.1 rejected as spam"), 1, "failed", False, ""),
        (SendError("smtp: 550 after DATA", True, 550, reply="mailbox unavailable"), 1, "failed", True, ""),
        (SendError("smtp: 451 try later", False, 451), 4, "retrying", False, ""),
        (SendError("smtp: 451 try later", False, 451), 5, "failed", False, ""),
    ],
)
def test_it_classifies_each_refusal(error, attempts, state, bounce, stops):
    outcome = classify(error, attempts, MAX)
    assert (outcome.state, outcome.bounce) == (state, bounce)
    assert (stops in outcome.stop_run) if stops else outcome.stop_run == ""
    if state == "failed" and attempts == MAX and not error.permanent:
        assert outcome.error.endswith("(gave up after 5 attempts)")
    elif state in ("failed", "retrying"):
        assert outcome.error == str(error)
