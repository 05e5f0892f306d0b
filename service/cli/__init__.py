"""The `paperboy` command line. Each command is a thin layer over a module that does the work."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC
from pathlib import Path

import click
from dotenv import load_dotenv

from service import store
from service.cli.digest import digest as digest_group
from service.cli.operate import backup as backup_command
from service.cli.operate import doctor as doctor_command
from service.cli.operate import restore as restore_command
from service.cli.scheduler import run as run_command
from service.cli.scheduler import scheduler as scheduler_command
from service.cli.scheduler import sender as sender_command
from service.cli.subscribers import admin as admin_group
from service.cli.subscribers import subscribers as subscribers_group
from service.cli.topics import seed_from_file
from service.cli.topics import topics as topics_group
from service.config import keep_files_private, load_config, log_level
from service.errors import PaperboyError
from service.model.topics import TopicsError
from service.runtime import Runtime

# Commands whose work is a batch (a fetch, an import, sending the digest, the scheduler's and the
# senders' jobs): they run at a lower CPU priority, so that on a machine they share with the web
# processes, pages and feeds keep answering promptly while they work (BENCHMARKS.md, bench/load.py).
BATCH_COMMANDS = {"fetch", "subscribers", "digest", "scheduler", "sender", "export", "backup"}
BATCH_NICE = 10

# A command imports the part it runs when it runs, not at the top: `paperboy --help` and a
# command's one-line error then load only the command line; the web app, the mail engine and the
# fetch job would add about two thirds to that start-up time.


class PaperboyGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option (a port out of range): one line, exit 2
            where = error.ctx.command_path if error.ctx else "paperboy"
            click.echo(f"{where}: {error.format_message()} (see {where} --help)", err=True)
            sys.exit(2)
        except PaperboyError as error:  # an expected failure: one line, not a traceback
            click.echo(f"paperboy: {error}", err=True)
            sys.exit(2)
        except store.DatabaseError as error:
            # Whatever a transaction did before the failure was rolled back with it.
            click.echo(f"paperboy: {store.describe(error)}", err=True)
            sys.exit(2)


@click.group(cls=PaperboyGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """paperboy follows research topics on arXiv: pages, feeds and a weekly email digest."""
    load_dotenv(".env", override=False)
    level = log_level()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if level > logging.DEBUG:  # PAPERBOY_LOG_LEVEL=DEBUG shows the libraries' lines too
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # paperboy logs each job itself; APScheduler's per-run lines would repeat every 30 s.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # the fetch job logs each page itself
        # paperboy inbound logs one line per message; these would add one per detector and SMTP command.
        logging.getLogger("flufl.bounce").setLevel(logging.WARNING)
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    # doctor reads the settings itself, so that bad ones are one of its lines, not the end of it.
    ctx.obj = None if ctx.invoked_subcommand == "doctor" else Runtime(load_config())
    differ = None
    if ctx.obj is not None and ctx.invoked_subcommand not in ("init", "topics"):
        differ = ctx.obj.topics_differ_from_file()
    if differ:
        click.echo(f"paperboy: {differ}", err=True)
    if ctx.invoked_subcommand in BATCH_COMMANDS:
        _lower_priority()


def _lower_priority() -> None:
    try:
        os.nice(BATCH_NICE)
    except OSError:  # not allowed here: the work runs all the same
        pass


@main.command()
@click.pass_obj
def init(runtime: Runtime) -> None:
    """Create or migrate the database."""
    engine = store.connect(runtime.config.database_url)
    store.migrate(engine)
    click.echo(f"paperboy: database ready at {engine.url.render_as_string(hide_password=True)}")
    try:
        taken = seed_from_file(runtime, engine)
    except TopicsError as error:  # no file yet: topics come later, by import or in the browser
        click.echo(f"paperboy: no topics in the store yet: {error}", err=True)
        return
    if taken:
        click.echo(f"paperboy: {taken} topics taken from {runtime.config.topics_file} into the store")
    elif differ := runtime.topics_differ_from_file():
        click.echo(f"paperboy: {differ}", err=True)


@main.command()
@click.option("--topic", "slug", metavar="SLUG", help="Fetch only this topic.")
@click.option("--since", metavar="YYYY-MM-DD", help="Go back to this date instead of the last run.")
@click.option("--check", is_flag=True, help="Fetch nothing: compare arXiv's count with the store's.")
@click.option("--days", type=click.IntRange(1, 3650), help="With --check: the last N days (default 14).")
@click.pass_obj
def fetch(runtime: Runtime, slug: str | None, since: str | None, check: bool, days: int | None) -> None:
    """Fetch new papers from arXiv; exit 0 ok, 1 partial, 2 failed."""
    from datetime import datetime

    from service.arxiv.fetch import fetch_topics

    if days is not None and not check:
        raise PaperboyError("fetch: --days goes with --check")
    if check and since is not None:
        raise PaperboyError("fetch: --check takes --days, not --since")
    since_date = None
    if since is not None:
        try:
            since_date = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise PaperboyError(f"fetch: --since expects a date like 2026-02-01, got {since!r}") from None
    topics = runtime.topics
    if slug is not None:
        topic = runtime.topic(slug)
        if topic is None:
            known = ", ".join(runtime.topic_slugs)
            raise PaperboyError(f"fetch: no topic {slug!r} in {runtime.config.topics_file} (known: {known})")
        topics = [topic]
    if check:
        _check(runtime, topics, days)
    report = fetch_topics(runtime, topics, since=since_date)
    for result in report.results:
        click.echo(result.summary())
    sys.exit(report.exit_code)


def _check(runtime: Runtime, topics, days: int | None) -> None:
    from service.arxiv.check import CHECK_DAYS, check_topics, exit_code
    from service.arxiv.client import ArxivClient

    with ArxivClient.from_config(runtime.config) as client:
        checks = check_topics(runtime.engine, client, topics, runtime.clock(), days or CHECK_DAYS)
    for result in checks:
        click.echo(result.summary())
    sys.exit(exit_code(checks))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.pass_obj
def serve(runtime: Runtime, host: str, port: int, workers: int) -> None:
    """Serve the web app (gunicorn) on http://HOST:PORT/."""
    from service.web.server import check_listen
    from service.web.server import serve as serve_app

    try:  # before gunicorn starts: a busy port is one line
        check_listen(host, port)
    except OSError as error:
        click.echo(f"paperboy: serve: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        sys.exit(2)
    serve_app(runtime.config, host, port, workers)


@main.command("export")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=True, dir_okay=True))
@click.pass_obj
def export(runtime: Runtime, directory: Path) -> None:
    """Write the public site to DIRECTORY as static files: Markdown in the seed's format,
    an index.html per page, every feed and the OPML. Unchanged files are left alone."""
    from service.web.static_site import export_site

    report = export_site(runtime.config, directory)
    click.echo(f"paperboy: export: {len(report.written)} files written, {report.unchanged} unchanged, in {directory}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.pass_obj
def inbound(runtime: Runtime, host: str, port: int) -> None:
    """Receive bounces, complaints and mailto unsubscribes over SMTP on HOST:PORT."""
    import asyncio

    from service.inbound.smtp import serve as serve_inbound

    _ = runtime.engine  # connect and migrate before the first message arrives
    try:
        asyncio.run(serve_inbound(runtime, host, port))
    except OSError as error:
        click.echo(f"paperboy: inbound: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        sys.exit(2)


for command in (
    subscribers_group,
    topics_group,
    admin_group,
    digest_group,
    scheduler_command,
    sender_command,
    run_command,
    backup_command,
    restore_command,
    doctor_command,
):
    main.add_command(command)


def entry_point() -> None:
    """The `paperboy` console script: files the process creates are private, then the command runs.
    (Not in main(), which tests also call in their own process.)"""
    keep_files_private()
    main()
