"""The CLI's commands, one module per command, each with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``. A new command is a module here plus one line in :data:`COMMANDS`;
a flag added to one command touches only its module."""
from __future__ import annotations

from types import ModuleType

from . import bench, convert, demo, doctor, export, inspect, render, render_many, serve, verify

#: command name → its module, in the order ``--help`` lists them
COMMANDS: dict[str, ModuleType] = {
    "export": export,
    "convert": convert,
    "render": render,
    "render-many": render_many,
    "serve": serve,
    "verify": verify,
    "inspect": inspect,
    "bench": bench,
    "demo": demo,
    "doctor": doctor,
}
