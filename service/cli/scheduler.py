"""`paperboy scheduler` (the Procfile's clock), `paperboy sender` (its sender) and `paperboy run`
(the web app and the scheduler in one process): the commands that keep running."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

log = logging.getLogger("paperboy")

# A command imports the part it runs when it runs, not at the top: `paperboy --help` and a
# command's one-line error then load only the command line; the web app, the mail engine and the
# fetch job would add about two thirds to that start-up time.


@click.command()
@click.pass_obj
def scheduler(runtime) -> None:
    """Fetch daily and send the digest weekly (PAPERBOY_FETCH_CRON, PAPERBOY_DIGEST_CRON)."""
    from service.scheduler.scheduler import Scheduler

    clock = Scheduler(runtime)
    # SIGTERM (a process manager stopping the clock) ends the loop, so the lock is released at once.
    signal.signal(signal.SIGTERM, lambda *_: clock.stop())
    clock.run_forever()


@click.command()
@click.pass_obj
def sender(runtime) -> None:
    """Send due digest deliveries every few seconds; any number may run beside the scheduler."""
    from service.outbound.worker import SendWorker

    worker = SendWorker(runtime)
    # SIGTERM stops the loop: messages being sent finish and are recorded, the rest of what this
    # sender claimed is handed back at once (not after its lease), then the process exits 0.
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.run_forever()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.pass_obj
def run(runtime, host: str, port: int) -> None:
    """The web app plus the scheduler in one process (what `make run` starts)."""
    from service import store
    from service.scheduler.scheduler import Scheduler
    from service.store import papers
    from service.web import create_app
    from service.web.server import listen_one_process, serve_one_process

    app = create_app(runtime.config)
    try:  # before anything starts: a busy port is one line, not a traceback after the first fetch
        server = listen_one_process(app, host, port, runtime.config.trusted_proxies)
    except OSError as error:
        click.echo(f"paperboy: run: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        sys.exit(2)
    store.migrate(runtime.engine)
    with runtime.engine.connect() as conn:
        stored = papers.count_papers(conn)
    # The pages are served at once and arXiv is asked in the background: an unreachable or silent
    # arXiv would otherwise hold up the start for as long as its timeouts and retries take.
    if stored:
        log.info("run: %d papers in the store; serving now and fetching arXiv in the background", stored)
    else:
        log.info(
            "run: the store is empty; serving now and fetching arXiv in the background "
            "(the bundled sample is loaded if that fails)"
        )
    threading.Thread(target=_fetch_in_background, args=(runtime,), name="first-fetch", daemon=True).start()
    # It is fetching on its own: only a missed digest is run late.
    clock = Scheduler(runtime, catch_up=("digest",))
    scheduler_thread = threading.Thread(target=clock.run_forever, name="scheduler", daemon=True)
    scheduler_thread.start()
    click.echo(f"paperboy: serving on http://{host}:{port}/ (scheduler running)", err=True)
    try:
        serve_one_process(server)
    except KeyboardInterrupt:
        pass
    finally:
        clock.stop()
        scheduler_thread.join(timeout=10)  # let it release the scheduler lock


def _fetch_in_background(runtime) -> None:
    """`paperboy run`'s first fetch (the bundled sample when it fails on an empty store); a failure is only logged."""
    from service.arxiv.fetch import initial_fetch

    try:
        code = initial_fetch(runtime)
    except Exception:  # the thread must not die silently: say why, the daily fetch will try again
        log.exception("run: the background fetch failed")
        return
    log.info("run: background fetch finished (exit code %d)", code)
