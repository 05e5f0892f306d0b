"""`paperboy backup FILE`, `paperboy restore FILE [--force]` and `paperboy doctor`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from service.runtime import Runtime

# A command imports the part it runs when it runs, not at the top: `paperboy --help` and a
# command's one-line error then load only the command line; the web app, the mail engine and the
# fetch job would add about two thirds to that start-up time.


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def backup(runtime: Runtime, file: Path) -> None:
    """Write a consistent copy of the store and the secret key to FILE (a tar archive), while
    paperboy runs."""
    from service.operate.backup import Place
    from service.operate.backup import backup as write_backup

    for line in write_backup(Place(runtime.config), file):
        click.echo(f"paperboy: {line}")


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Replace a store that holds data (stop paperboy first).")
@click.pass_obj
def restore(runtime: Runtime, file: Path, force: bool) -> None:
    """Put the store and secret key of the backup FILE in place; a store with data is replaced
    only with --force."""
    from service.operate.backup import Place
    from service.operate.backup import restore as read_backup

    for line in read_backup(Place(runtime.config), file, force):
        click.echo(f"paperboy: {line}")


@click.command()
def doctor() -> None:
    """Check settings, topics, store, scheduler lock, SMTP, mail DNS, the site and arXiv: one
    line each; exit 0 when nothing failed, 1 otherwise."""
    from service.operate.doctor import exit_code, run_checks

    checks = run_checks()
    for check in checks:
        click.echo(check.line())
    sys.exit(exit_code(checks))
