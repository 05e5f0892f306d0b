"""`paperboy topics import FILE` / `paperboy topics export FILE`: the store's topics and a topics
file, for those who keep their topics in git. Once the store holds topics, only these read the file."""

from __future__ import annotations

from pathlib import Path

import click

from service.model.topics import load_topics, topics_toml
from service.store import topics as topic_store
from service.store import write_transaction
from service.store.subscribers import audit


@click.group()
def topics() -> None:
    """The topics in the store, to and from a topics file (topics.toml's format)."""


@topics.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def import_command(runtime, file: Path) -> None:
    """Make the store's topics FILE's: new ones added, changed ones changed, missing ones retired."""
    wanted = load_topics(file)
    now = runtime.clock()
    with write_transaction(runtime.engine) as conn:
        added, changed, retired = topic_store.import_all(conn, wanted, now)
        audit.record_audit(
            conn, now, "cli", "topics-import", None, f"{file}: {added} added, {changed} changed, {retired} retired"
        )
    click.echo(f"paperboy: topics from {file}: {added} added, {changed} changed, {retired} retired")


@topics.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export_command(runtime, file: Path) -> None:
    """Write the store's live topics to FILE."""
    with runtime.engine.connect() as conn:
        held = topic_store.load(conn)
    if not held:
        held = runtime.file_topics()
    live = [topic for topic in held if topic.retired is None]
    file.write_text(topics_toml(live), encoding="utf-8")
    click.echo(f"paperboy: {len(live)} topics written to {file}")


def seed_from_file(runtime, engine) -> int:
    """On a store without topics, take them from PAPERBOY_TOPICS_FILE; returns how many."""
    with write_transaction(engine) as conn:
        if topic_store.stamp(conn)[0]:
            return 0
        wanted = runtime.file_topics()
        now = runtime.clock()
        added, _, _ = topic_store.import_all(conn, wanted, now)
        audit.record_audit(conn, now, "cli", "topics-import", None, f"{runtime.config.topics_file}: {added} added")
    return added
