"""`paperboy digest preview|send`, `paperboy scheduler` and `paperboy run`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

import click

from service.digest import last_complete_week, preview
from service.errors import PaperboyError
from service.weeks import week_bounds

log = logging.getLogger("paperboy")


def _week(value: str | None, now: datetime) -> str:
    week = value or last_complete_week(now)
    try:
        week_bounds(week)
    except ValueError as error:
        raise click.UsageError(f"--week: {error}") from None
    return week


@click.group()
def digest() -> None:
    """The weekly email digest."""


@digest.command("preview")
@click.option("--week", metavar="YYYY-Www", help="ISO week (default: the last complete one).")
@click.option("--topics", metavar="A,B", help="Topic slugs (default: every topic).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/preview"),
              show_default=True, help="Folder for the HTML and text files.")
@click.pass_obj
def preview_command(runtime, week: str | None, topics: str | None, out_dir: Path) -> None:
    """Write the email's HTML and text parts to files and print their paths."""
    now = runtime.clock()
    week = _week(week, now)
    slugs = [s.strip() for s in topics.split(",") if s.strip()] if topics else None
    result = preview(runtime.engine, runtime.config, runtime.topics, week, slugs, now)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"digest-{week}-{'+'.join(result.rendered.topic_set)}"
    html_path, text_path = out_dir / f"{stem}.html", out_dir / f"{stem}.txt"
    html_path.write_text(result.html, encoding="utf-8")
    text_path.write_text(result.text, encoding="utf-8")
    click.echo(f"Subject: {result.rendered.subject}", err=True)
    click.echo(str(html_path))
    click.echo(str(text_path))


@digest.command("send")
@click.option("--week", metavar="YYYY-Www", help="ISO week (default: the last complete one).")
@click.option("--dry-run", is_flag=True, help="Send nothing; report what would go.")
@click.pass_obj
def send_command(runtime, week: str | None, dry_run: bool) -> None:
    """Write the send ledger for the week's digest, then send every delivery still due.

    Exit 0 when everything went, 1 when some deliveries failed or are held by another sender,
    2 when the run stopped early (e.g. the SMTP server cannot be reached): rerun to finish."""
    from service.mailer import send_digest
    from service.send_queue import dry_run as plan

    now = runtime.clock()
    week = _week(week, now)
    if dry_run:
        report = plan(runtime, week, now)
        click.echo(f"{week}: {report.papers} papers; would send {report.messages} messages "
                   f"({len(report.topic_sets)} distinct topic sets); nothing sent")
        for topic_set, count in report.topic_sets.most_common():
            click.echo(f"  {count:6d}  {', '.join(topic_set)}")
        return
    queued, stats = send_digest(runtime, week, now=now, progress=_progress())
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(f"{week}: {stats.sent} sent, {stats.failed} failed ({stats.bounced} bounced), "
               f"{stats.cancelled} cancelled, {stats.retried} retried; {queued.added} new deliveries written")
    if stats.error:
        raise PaperboyError(stats.error)
    if stats.failed or stats.held_elsewhere:
        sys.exit(1)


def _progress():
    """A one-line counter on a terminal; elsewhere the mailer's log lines say enough."""
    if not sys.stderr.isatty():
        return None
    # The counter replaces the per-batch log lines, which would break it up; warnings still show.
    logging.getLogger("paperboy.mailer").setLevel(logging.WARNING)

    def show(stats) -> None:
        sys.stderr.write(f"\rsent {stats.sent}/{stats.total}, failed {stats.failed}, retried {stats.retried}  ")
        sys.stderr.flush()

    return show


@click.command()
@click.pass_obj
def scheduler(runtime) -> None:
    """Fetch daily and send the digest weekly (PAPERBOY_FETCH_CRON, PAPERBOY_DIGEST_CRON)."""
    from service.scheduler import Scheduler

    clock = Scheduler(runtime)
    # SIGTERM (a process manager stopping the clock) ends the loop, so the lock is released at once.
    signal.signal(signal.SIGTERM, lambda *_: clock.stop())
    clock.run_forever()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_obj
def run(runtime, host: str, port: int) -> None:
    """The web app plus the scheduler in one process (what `make run` starts)."""
    from werkzeug.serving import make_server

    from service import store
    from service.fetch import initial_fetch
    from service.store import papers
    from service.scheduler import Scheduler
    from service.web import create_app

    store.migrate(runtime.engine)
    with runtime.engine.connect() as conn:
        stored = papers.count_papers(conn)
    if stored:
        # The pages can be served from the store at once; an unreachable arXiv would otherwise hold
        # up every start for as long as its timeouts and retries take.
        log.info("run: %d papers in the store; serving now and fetching arXiv in the background", stored)
        threading.Thread(target=_fetch_in_background, args=(runtime,), name="first-fetch", daemon=True).start()
    else:
        initial_fetch(runtime)  # an empty store: the pages wait for papers, or the bundled sample
    clock = Scheduler(runtime)
    scheduler_thread = threading.Thread(target=clock.run_forever, name="scheduler", daemon=True)
    scheduler_thread.start()
    server = make_server(host, port, create_app(runtime.config), threaded=True)
    # shutdown() waits for serve_forever() to return, so it must come from another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    click.echo(f"paperboy: serving on http://{host}:{port}/ (scheduler running)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        clock.stop()
        scheduler_thread.join(timeout=10)  # let it release the scheduler lock


def _fetch_in_background(runtime) -> None:
    """`paperboy run`'s first fetch when the store already has papers; a failure is only logged."""
    from service.fetch import initial_fetch

    try:
        code = initial_fetch(runtime)
    except Exception:  # the thread must not die silently: say why, the daily fetch will try again
        log.exception("run: the background fetch failed")
        return
    log.info("run: background fetch finished (exit code %d)", code)
