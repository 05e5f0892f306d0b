"""`paperboy --help` and every command's: each command and each option says what it is for."""

from __future__ import annotations

import click
import pytest

from service.cli import main


def commands(group: click.Group, path: str = "paperboy"):
    for name, command in sorted(group.commands.items()):
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")


@pytest.mark.parametrize(("path", "command"), list(commands(main)), ids=lambda value: str(value))
def test_every_command_and_option_has_a_help_text(path, command):
    assert command.help, f"{path} has no description"
    for option in command.params:
        if isinstance(option, click.Option):
            assert option.help, f"{path} {'/'.join(option.opts)} has no help text"
