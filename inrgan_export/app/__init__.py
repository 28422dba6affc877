"""What the commands do, as functions: the export pipeline (export, convert, verify), render,
inspect, and the frozen option dataclasses the CLI builds. Above every other layer but the CLI."""
