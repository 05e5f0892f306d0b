"""Digest subjects as mail clients read them: folded at spaces, never right after "Subject:"."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from service.digest.letter import subject_for
from service.outbound.mime import fold_header

TITLES = [
    ["Vision-Language-Action Models", "Robot Learning", "World Models", "Embodied AI and Navigation"],
    ["Vision-Language-Action Models", "Robotics (all of cs.RO)"],
    ["Vision–Language–Action Models", "World Models", "Robot Learning", "LLM Reasoning"],
    ["World Models"],
    [],
]


@pytest.mark.parametrize("titles", TITLES)
def test_a_subject_starts_on_the_subject_line_and_reads_back_whole(titles):
    subject = subject_for("2026-W05", titles)
    raw = fold_header("Subject", subject)
    lines = raw.decode("ascii").split("\r\n")
    assert lines[0].startswith("Subject: paperboy 2026-W05:")  # not "Subject:" alone
    assert all(len(line) <= 78 for line in lines)
    message = message_from_bytes(b"From: a@example.org\r\n" + raw + b"\r\nbody\r\n", policy=policy.default)
    assert message["Subject"] == subject
