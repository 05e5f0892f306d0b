"""`paperboy subscribers import|export` and `paperboy admin create`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from werkzeug.security import generate_password_hash

from service.model.text import counted
from service.store import write_transaction
from service.store.subscribers import admins, records
from service.store.subscribers.imports import export_rows
from subscribers import csv_io
from subscribers.addresses import AddressError, normalize_address
from subscribers.imports import import_rows


@click.group()
def subscribers() -> None:
    """Subscriber lists as CSV (columns email, topics, status)."""


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.pass_obj
def import_command(runtime, file: Path, dry_run: bool) -> None:
    """Insert or update subscribers from FILE.csv; nothing is written if any row is bad."""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise csv_io.CsvError(f"csv: cannot read {str(file)!r}: {error.strerror}") from None
    parsed = csv_io.parse(data, list(runtime.topic_slugs))
    if not parsed.ok:
        for row_error in parsed.errors:
            click.echo(f"{file}: {row_error}", err=True)
        if parsed.error_count > len(parsed.errors):
            click.echo(f"{file}: and {parsed.error_count - len(parsed.errors)} more bad rows", err=True)
        click.echo(
            f"paperboy: csv: {counted(parsed.error_count, 'bad row', 'bad rows')}; nothing was imported", err=True
        )
        sys.exit(1)
    if dry_run:
        valid = counted(len(parsed.rows), "row is", "rows are")
        click.echo(f"{valid} valid (read as {parsed.encoding}); dry run, nothing written")
        return
    with write_transaction(runtime.engine) as conn:
        result = import_rows(conn, parsed.rows, runtime.clock(), "cli")
    click.echo(
        f"imported {counted(len(parsed.rows), 'row', 'rows')}: {result.created} new, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )
    if result.kept:
        click.echo(
            f"{result.kept} addresses that unsubscribed or are blocked kept that status: "
            "an import never subscribes them again"
        )


@subscribers.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export_command(runtime, file: Path | None) -> None:
    """Write every subscriber as CSV to FILE.csv, or to standard output."""
    with runtime.engine.connect() as conn:
        if file is None:
            csv_io.write(export_rows(conn), sys.stdout)
            return
        # Written next to the target and renamed, so a failed export never leaves half a file.
        temporary = file.with_name(f".{file.name}.tmp")
        with temporary.open("w", encoding="utf-8", newline="") as out:
            count = csv_io.write(export_rows(conn), out)
        temporary.replace(file)
    click.echo(f"exported {counted(count, 'subscriber', 'subscribers')} to {file}", err=True)


@click.group()
def admin() -> None:
    """Admin accounts for the /admin pages."""


@admin.command("create")
@click.argument("email")
@click.password_option(
    envvar="PAPERBOY_ADMIN_PASSWORD", help="Read from the terminal unless PAPERBOY_ADMIN_PASSWORD is set."
)
@click.pass_obj
def create_command(runtime, email: str, password: str) -> None:
    """Create an admin who signs in at /admin/ with EMAIL and a password."""
    try:
        address = normalize_address(email)
    except AddressError as error:
        raise AddressError(f"admin: {error}") from None
    if len(password) < 8:
        raise records.SubscriberError("admin: the password must have at least 8 characters")
    with write_transaction(runtime.engine) as conn:
        admins.create_admin(conn, address, generate_password_hash(password), runtime.clock())
    click.echo(f"admin {address} created; sign in at {runtime.config.base_url}/admin/")
