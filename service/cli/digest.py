"""`paperboy digest preview|send`."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from service.digest.digest import last_complete_week, preview
from service.errors import PaperboyError
from service.model.text import counted
from service.model.weeks import week_bounds

log = logging.getLogger("paperboy")

# A command imports the part it runs when it runs, not at the top: `paperboy --help` and a
# command's one-line error then load only the command line; the web app, the mail engine and the
# fetch job would add about two thirds to that start-up time.


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
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/preview"),
    show_default=True,
    help="Folder for the HTML and text files.",
)
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
    from service.digest.queue import dry_run as plan
    from service.outbound.digests import send_digest

    now = runtime.clock()
    week = _week(week, now)
    if dry_run:
        report = plan(runtime, week, now)
        click.echo(
            f"{week}: {counted(report.papers, 'paper', 'papers')}; "
            f"would send {counted(report.messages, 'message', 'messages')} "
            f"({counted(len(report.topic_sets), 'distinct topic set', 'distinct topic sets')}); nothing sent"
        )
        for topic_set, count in report.topic_sets.most_common():
            click.echo(f"  {count:6d}  {', '.join(topic_set)}")
        if report.held:
            click.echo(_held_note(report.held, report.held_until) + " (not counted above)")
        return
    queued, stats = send_digest(runtime, week, now=now, progress=_progress())
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(
        f"{week}: {stats.sent} sent, {stats.failed} failed ({stats.bounced} bounced), "
        f"{stats.cancelled} cancelled, {stats.retried} retried; "
        f"{counted(queued.added, 'new delivery', 'new deliveries')} written"
    )
    if stats.held_elsewhere:
        click.echo(
            _held_note(stats.held_elsewhere, stats.held_until)
            + "; if that sender has stopped, a rerun after then sends them"
        )
    if stats.error:
        raise PaperboyError(stats.error)
    if stats.failed or stats.held_elsewhere:
        sys.exit(1)


def _held_note(count: int, until) -> str:
    held = counted(count, "delivery is", "deliveries are")
    return f"{held} held by another sender until {until:%Y-%m-%d %H:%M:%S} UTC (the end of its lease)"


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
