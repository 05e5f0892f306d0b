"""The `paperboy` command line. Each command is a thin layer over a module that does the work."""

from __future__ import annotations

import logging
import sys

import click
from dotenv import load_dotenv

from service import store
from service.arxiv import ArxivError
from service.config import ConfigError, load_config
from service.runtime import Runtime
from service.topics import TopicsError

# Errors that end a command with one clear line instead of a traceback.
EXPECTED_ERRORS = (ConfigError, TopicsError, store.StoreError, ArxivError)


class PaperboyGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS as error:
            click.echo(f"paperboy: {error}", err=True)
            sys.exit(2)


@click.group(cls=PaperboyGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """paperboy follows research topics on arXiv: pages, feeds and a weekly email digest."""
    load_dotenv(".env", override=False)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        ctx.obj = Runtime(load_config())
    except ConfigError as error:
        click.echo(f"paperboy: {error}", err=True)
        sys.exit(2)


@main.command()
@click.pass_obj
def init(runtime: Runtime) -> None:
    """Create or migrate the database."""
    engine = store.connect(runtime.config.database_url)
    store.migrate(engine)
    click.echo(f"paperboy: database ready at {engine.url.render_as_string(hide_password=True)}")


from subscribers.cli import admin as admin_group, subscribers as subscribers_group  # noqa: E402

main.add_command(subscribers_group)
main.add_command(admin_group)
