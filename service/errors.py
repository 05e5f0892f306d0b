"""PaperboyError: the base of every failure paperboy expects and reports in one line.

The command line catches it once (service/cli.py) and prints its message, which names where
the failure happened ("config: ...", "csv: ..."), then exits with status 2.
"""


class PaperboyError(Exception):
    """An expected failure whose message is one line saying where and what."""
