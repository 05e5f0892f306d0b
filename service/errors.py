"""PaperboyError: the base of every failure paperboy expects and reports in one line.

The command line catches it once (service/cli/__init__.py) and prints its message, which names where
the failure happened ("config: ...", "csv: ..."), then exits with status 2.
"""


class PaperboyError(Exception):
    """An expected failure whose message is one line saying where and what."""


def first_line(error: BaseException, default: str = "") -> str:
    """The first line of `error`'s message (`default` when it has none), for one-line reports."""
    return (str(error).strip().splitlines() or [default])[0]
