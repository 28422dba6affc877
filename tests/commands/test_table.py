"""The CLI's command table: one module per command, each in the table once, and the parser
built from the table (so a command added as a module cannot be forgotten by the parser)."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from inrgan_export import cli, commands
from inrgan_export.core.errors import UsageError

#: modules of commands/ that are not commands
HELPERS = {"__init__", "args"}


def command_modules() -> set[str]:
    return {p.stem for p in Path(commands.__file__).parent.glob("*.py")} - HELPERS


def test_every_command_module_is_in_the_table_once():
    names = [m.__name__.rsplit(".", 1)[1] for m in commands.COMMANDS.values()]
    assert sorted(names) == sorted(command_modules())
    assert len(set(names)) == len(names)
    for module in commands.COMMANDS.values():
        assert module.HELP and callable(module.add_arguments) and callable(module.run)


def test_the_parser_has_one_subcommand_per_table_entry():
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(commands.COMMANDS)
    assert [c.dest for c in sub._choices_actions] == list(commands.COMMANDS)


def test_a_command_missing_from_the_table_is_not_parsed(monkeypatch):
    table = {k: v for k, v in commands.COMMANDS.items() if k != "inspect"}
    monkeypatch.setattr(cli, "COMMANDS", table)
    with pytest.raises(UsageError, match="invalid choice|not one of"):
        cli.build_parser().parse_args(["inspect", "b"])
    args = argparse.Namespace(command="inspect")
    with pytest.raises(UsageError, match="no command given"):
        cli.run(args)
