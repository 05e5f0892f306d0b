"""One check's outcome, as `paperboy doctor` prints it: one line saying what is fine or what to do."""

from __future__ import annotations

from dataclasses import dataclass

OK, FAIL, SKIP = "ok", "FAIL", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


def ok(name: str, detail: str) -> Check:
    return Check(name, OK, detail)


def fail(name: str, detail: str) -> Check:
    return Check(name, FAIL, detail)


def skip(name: str, detail: str) -> Check:
    return Check(name, SKIP, detail)
