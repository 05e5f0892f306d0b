"""`paperboy scheduler` (the Procfile's clock), `paperboy sender` (its sender) and `paperboy run`
(the web app and the scheduler in one process): the commands that keep running."""

from __future__ import annotations

import logging
import signal
import threading

import click

log = logging.getLogger("paperboy")


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
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_obj
def run(runtime, host: str, port: int) -> None:
    """The web app plus the scheduler in one process (what `make run` starts)."""
    from service import store
    from service.arxiv.fetch import initial_fetch
    from service.scheduler.scheduler import Scheduler
    from service.store import papers
    from service.web import create_app
    from service.web.server import serve_one_process

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
    # It has just fetched (or is fetching) on its own: only a missed digest is run late.
    clock = Scheduler(runtime, catch_up=("digest",))
    scheduler_thread = threading.Thread(target=clock.run_forever, name="scheduler", daemon=True)
    scheduler_thread.start()
    app = create_app(runtime.config)
    click.echo(f"paperboy: serving on http://{host}:{port}/ (scheduler running)", err=True)
    try:
        serve_one_process(app, host, port, runtime.config.trusted_proxies)
    except KeyboardInterrupt:
        pass
    finally:
        clock.stop()
        scheduler_thread.join(timeout=10)  # let it release the scheduler lock


def _fetch_in_background(runtime) -> None:
    """`paperboy run`'s first fetch when the store already has papers; a failure is only logged."""
    from service.arxiv.fetch import initial_fetch

    try:
        code = initial_fetch(runtime)
    except Exception:  # the thread must not die silently: say why, the daily fetch will try again
        log.exception("run: the background fetch failed")
        return
    log.info("run: background fetch finished (exit code %d)", code)
