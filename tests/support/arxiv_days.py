"""arXiv over time, for the tests and bench/ingestion.py: a schedule of submissions and
announcements, and a local API server that answers only what its clock has announced.

The schedule follows arXiv's: submissions close at 14:00 US Eastern on weekdays and are
announced at 20:00 the same day (Friday's on Sunday); nothing is announced on holidays; about
one paper in eight is held for moderation and announced 2 to 15 days late; some papers get new
versions (announced like submissions), a few a withdrawal; the API's index sometimes lags the
announcement by a day or two. Entries are real API entries (tests/data) with other ids and dates.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.support.arxiv_replay import ATOM, entries, feed, rewrite_entry

ARXIV = "{http://arxiv.org/schemas/atom}"
EASTERN = ZoneInfo("America/New_York")
CUTOFF = time(14, 0)
ANNOUNCE = time(20, 0)
WITHDRAWN = "This paper has been withdrawn by the author due to an error in the main proof"
WINDOW = re.compile(
    r"^\((?P<query>.*)\) AND (?P<field>submittedDate|lastUpdatedDate):"
    r"\[(?P<start>\d{12}) TO (?P<end>\d{12})\]$"
)


@dataclass
class Version:
    number: int
    submitted: datetime
    visible: datetime  # announced and in the API's index
    comment: str | None = None


@dataclass
class SimPaper:
    id: str
    query: str
    versions: list[Version]
    held_days: int = 0
    source: int = 0  # which real entry it is made from

    @property
    def published(self) -> datetime:
        return self.versions[0].submitted

    def at(self, clock: datetime) -> Version | None:
        """The newest version the API shows at `clock`, or None before the first is announced."""
        shown = [v for v in self.versions if v.visible <= clock]
        return shown[-1] if shown else None

    def withdrawn_at(self, clock: datetime) -> bool:
        version = self.at(clock)
        return version is not None and version.comment == WITHDRAWN


class Schedule:
    """arXiv's announcement calendar: weekday cutoffs, Sunday-to-Thursday lists, holidays."""

    def __init__(self, holidays: set[date] = frozenset()):
        self.holidays = set(holidays)

    def next_cutoff(self, moment: datetime) -> datetime:
        local = moment.astimezone(EASTERN)
        day = local.date()
        while True:
            cutoff = datetime.combine(day, CUTOFF, tzinfo=EASTERN)
            if day.weekday() < 5 and day not in self.holidays and cutoff >= local:
                return cutoff
            day += timedelta(days=1)

    def next_announcement(self, moment: datetime) -> datetime:
        """The first mailing at or after `moment`: 20:00 Eastern, Sunday to Thursday, no holiday."""
        local = moment.astimezone(EASTERN)
        day = local.date()
        while True:
            slot = datetime.combine(day, ANNOUNCE, tzinfo=EASTERN)
            if day.weekday() in (6, 0, 1, 2, 3) and day not in self.holidays and slot >= local:
                return slot.astimezone(UTC)
            day += timedelta(days=1)

    def announced(self, submitted: datetime, held_days: int = 0) -> datetime:
        regular = self.next_announcement(self.next_cutoff(submitted))
        return self.next_announcement(regular + timedelta(days=held_days)) if held_days else regular


@dataclass
class Simulation:
    """Papers per topic query, and when arXiv announced each of their versions."""

    schedule: Schedule = field(default_factory=Schedule)
    papers: list[SimPaper] = field(default_factory=list)
    seed: int = 1
    _numbers: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        query: str,
        submitted: datetime,
        held_days: int = 0,
        lag: timedelta = timedelta(minutes=30),
        later: list[tuple[timedelta, str | None]] = (),
        visible: datetime | None = None,
    ) -> SimPaper:
        """A paper first submitted at `submitted`; `later` are its new versions: (delay after
        the previous announcement, comment). `visible` overrides the schedule for the v1."""
        month = submitted.strftime("%y%m")
        self._numbers[month] = self._numbers.get(month, 0) + 1
        paper_id = f"{month}.{self._numbers[month] + 10000:05d}"
        announced = visible or self.schedule.announced(submitted, held_days) + lag
        versions = [Version(1, submitted, announced)]
        for number, (delay, comment) in enumerate(later, start=2):
            when = versions[-1].visible + delay
            versions.append(Version(number, when, self.schedule.announced(when) + lag, comment))
        paper = SimPaper(paper_id, query, versions, held_days, source=len(self.papers))
        self.papers.append(paper)
        return paper

    def generate(
        self,
        query: str,
        begin: datetime,
        days: int,
        per_day: float,
        *,
        held: float = 1 / 8,
        hold_days: tuple[int, int] = (2, 15),
        new_versions: float = 0.3,
        withdrawals: float = 0.02,
        lagging: float = 0.05,
    ) -> None:
        """Random submissions for `days` days from `begin`, in submission order (seeded)."""
        rng = random.Random(f"{self.seed}:{query}")
        times = []
        trials = int(3 * per_day) + 10  # a binomial count with mean per_day (40 % of it at weekends)
        for day in range(days):
            start = begin + timedelta(days=day)
            weekend = start.weekday() >= 5
            count = sum(rng.random() < per_day * (0.4 if weekend else 1.0) / trials for _ in range(trials))
            times += [start + timedelta(seconds=rng.randrange(86400)) for _ in range(count)]
        for submitted in sorted(times):
            hold = rng.randint(*hold_days) if rng.random() < held else 0
            lag = timedelta(hours=rng.randint(24, 48)) if rng.random() < lagging else timedelta(minutes=30)
            later = []
            if rng.random() < new_versions:
                later.append((timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 23)), "v2: camera-ready"))
            if rng.random() < withdrawals:
                later.append((timedelta(days=rng.randint(1, 10)), WITHDRAWN))
            self.add(query, submitted, hold, lag, later)

    def visible(self, query: str, clock: datetime) -> list[SimPaper]:
        """Papers of `query` the API shows at `clock`."""
        return [p for p in self.papers if p.query == query and p.at(clock) is not None]

    def answer(self, params: dict[str, str], clock: datetime) -> tuple[int, bytes]:
        """The API's answer to one query at `clock`: entries announced by then, in the window."""
        match = WINDOW.match(params.get("search_query", ""))
        if match is None:
            return 400, b"search_query must be (QUERY) AND submittedDate|lastUpdatedDate:[A TO B]"
        start = datetime.strptime(match["start"], "%Y%m%d%H%M").replace(tzinfo=UTC)
        end = datetime.strptime(match["end"], "%Y%m%d%H%M").replace(tzinfo=UTC) + timedelta(minutes=1)
        by_update = match["field"] == "lastUpdatedDate"
        found = []
        for paper in self.visible(match["query"], clock):
            version = paper.at(clock)
            moment = version.submitted if by_update else paper.published
            if start <= moment < end:
                found.append((paper, version))
        sort_update = params.get("sortBy") == "lastUpdatedDate"
        found.sort(
            key=lambda pv: (pv[1].submitted if sort_update else pv[0].published, pv[0].id),
            reverse=params.get("sortOrder", "descending") == "descending",
        )
        offset, size = int(params.get("start", 0)), int(params.get("max_results", 10))
        page = [self.entry(paper, version) for paper, version in found[offset : offset + size]]
        return 200, feed(page, start=offset, total=len(found))

    def entry(self, paper: SimPaper, version: Version):
        sources = _sources()
        element = rewrite_entry(
            sources[paper.source % len(sources)], arxiv_id=paper.id, version=version.number, published=paper.published
        )
        element.find(f"{ATOM}updated").text = version.submitted.strftime("%Y-%m-%dT%H:%M:%SZ")
        comment = element.find(f"{ARXIV}comment")
        if version.comment is not None:
            if comment is None:
                comment = element.makeelement(f"{ARXIV}comment", {})
                element.append(comment)
            comment.text = version.comment
        return element


@lru_cache(maxsize=1)
def _sources():
    return entries()


class ArxivDaysServer:
    """The Simulation served over HTTP on loopback; `clock` is moved by the test or bench
    (None: the real time). `fault(params)` may answer instead, e.g. a 503 or a cut-off page."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.clock: datetime | None = None
        self.fault: Callable[[dict[str, str]], tuple[int, bytes] | None] | None = None
        self.requests: list[tuple[datetime, dict[str, str]]] = []
        self.on_request: Callable[[dict[str, str]], None] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/clock":  # a driver in another process moves the clock
                    server.clock = datetime.fromisoformat(params["at"])
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                now = server.clock or datetime.now(UTC)
                server.requests.append((now, params))
                if server.on_request is not None:
                    server.on_request(params)
                answer = server.fault(params) if server.fault else None
                status, body = answer or server.simulation.answer(params, now)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/atom+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed while its request was held

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/api/query"

    @property
    def clock_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/clock"

    def __enter__(self) -> ArxivDaysServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
