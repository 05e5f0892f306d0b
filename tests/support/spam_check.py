"""SpamAssassin (Debian's spamassassin) on a message, local tests only (-L): what a real filter says."""

from __future__ import annotations

import re
import shutil
import subprocess
from email import message_from_bytes

import pytest

from tests.conftest import REQUIRE_BROWSER

SPAMASSASSIN = shutil.which("spamassassin")
# Informational: SpamAssassin notes every message that has an HTML part (score 0.001).
INFORMATIONAL = {"HTML_MESSAGE"}


def require_spamassassin() -> None:
    """Skip without spamassassin, but fail where CI says nothing may skip."""
    if SPAMASSASSIN is None:
        reason = "the spam filter tests need SpamAssassin (apt-get install spamassassin)"
        if REQUIRE_BROWSER:
            pytest.fail(f"PAPERBOY_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


def spam_status(raw: bytes, home) -> tuple[float, list[str]]:
    """(score, rules hit) from `spamassassin -t -L` on one message; `home` keeps its files out of ~."""
    result = subprocess.run(
        [SPAMASSASSIN, "-x", "-t", "-L"],
        input=raw,
        capture_output=True,
        timeout=120,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    status = message_from_bytes(result.stdout)["X-Spam-Status"]
    assert status, result.stderr.decode(errors="replace")[-500:]
    status = " ".join(status.split())
    score = float(re.search(r"score=(-?[\d.]+)", status).group(1))
    tests = re.search(r"tests=(\S*)", status).group(1)
    return score, [rule for rule in tests.split(",") if rule and rule != "none"]
