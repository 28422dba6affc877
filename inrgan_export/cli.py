"""``inrgan-export``: command-line edge. Parses arguments into the frozen option dataclasses,
runs one command, and maps typed errors to one-line messages and exit codes
(0 ok, 2 bad input or usage, 3 backend unavailable, 4 parity gate failed, 1 anything else)."""
from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import os
import sys
from typing import Sequence

from ._version import __version__
from .commands import COMMANDS
from .commands.args import output_flags
from .core import log, signals
from .core.errors import InrganError, UsageError
from .core.extras import missing_extra


class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice" in message:
            # "argument --target: invalid choice: 'onxx' (choose from onnx, openvino, tensorrt)"
            bad = message.split("invalid choice: ")[1].split(" ")[0].strip("'")
            choices = message.split("choose from ")[-1].rstrip(")").replace("'", "").split(", ")
            close = difflib.get_close_matches(bad, choices, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"{message.split(':')[0]}: {bad!r} is not one of {', '.join(choices)}{hint}")
        # the CLI prints "inrgan-export: error: " itself: name only the sub-command, once
        where = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{where}: {message}" if where else message)


PROG = "inrgan-export"


def build_parser() -> argparse.ArgumentParser:
    """The global flags, then one subparser per entry of the command table."""
    p = _Parser(prog=PROG, description="Export INR-GAN generators to deployable graphs.")
    p.add_argument("--version", action="version", version=f"inrgan-export {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and exporter logs (anywhere on the line)")
    output_flags(p)
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    p.commands = {}  # type: ignore[attr-defined]
    for name, command in COMMANDS.items():
        p.commands[name] = sub.add_parser(name, help=command.HELP)  # type: ignore[attr-defined]
        output_flags(p.commands[name])  # type: ignore[attr-defined]
        command.add_arguments(p.commands[name])  # type: ignore[attr-defined]
    return p


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """The design card's bare form ``inrgan-export CKPT --target ...`` means ``export``;
    a subcommand name always wins over a file of the same name."""
    argv = list(argv)
    idx = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if idx is not None and argv[idx] not in COMMANDS:
        check_not_a_typo(argv[idx])
        argv.insert(idx, "export")
    return argv


def check_not_a_typo(word: str) -> None:
    """``rendr`` is a mistyped command, not a checkpoint: a word that is no file, no ``demo:``
    source and no path, and close to a command name, is refused with a suggestion."""
    if os.path.exists(word) or ":" in word or "/" in word or "." in word:
        return
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    if close:
        raise UsageError(f"unknown command {word!r}; did you mean `{close[0]}`? (commands: {', '.join(COMMANDS)})")


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, but an unknown option is named once with the closest option of its command."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = getattr(parser, "commands", {}).get(getattr(args, "command", None))
        known = list(sub._option_string_actions) if sub is not None else []
        close = difflib.get_close_matches(extras[0].split("=")[0], known, n=1) if extras[0].startswith("-") else []
        hint = f"; did you mean {close[0]}?" if close else ""
        where = f"{args.command}: " if getattr(args, "command", None) else ""
        raise UsageError(f"{where}unrecognized arguments: {' '.join(extras)}{hint}")
    if getattr(args, "quiet", False) and getattr(args, "verbose", False):  # one before the command, one after
        raise UsageError("argument -v/--verbose: not allowed with argument -q/--quiet (choose one)")
    return args


#: commands whose libraries' output is captured unless -v: not the long-running servers, whose
#: own lines (ready line, Ray's) are printed by the cluster layer
CAPTURED = frozenset(COMMANDS) - {"serve", "render-many"}


#: options whose value may start with '-' (a window left of or above the image)
NEGATIVE_VALUE_OPTIONS = ("--window", "--windows", "--t", "--zoom-center")


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--window -0.25,-0.25,1.25,1.25`` → ``--window=-0.25,...``: argparse would otherwise
    read a value starting with '-' as an option."""
    out: list[str] = []
    it = iter(range(len(argv)))
    for i in it:
        a = argv[i]
        if a in NEGATIVE_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1][1:2] not in ("", "-"):
            out.append(f"{a}={argv[i + 1]}")
            next(it, None)
        else:
            out.append(a)
    return out


def run(args: argparse.Namespace) -> int:
    """Run the parsed command through the command table."""
    if args.command not in COMMANDS:
        raise UsageError("no command given; try: inrgan-export demo:tiny --target onnx -o tiny_onnx/  (or --help)")
    return COMMANDS[args.command].run(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line
    argv = join_negative_values([a for a in argv if a != "--debug"])
    previous = signals.install()
    quiet, verbose = log.QUIET, log.VERBOSE
    try:
        argv = normalize_argv(argv)
        args = parse(build_parser(), argv)
        args.debug = debug
        log.QUIET, log.VERBOSE = getattr(args, "quiet", False), getattr(args, "verbose", False) or debug
        captured = log.foreign_output_captured(expected=EXPECTED) if args.command in CAPTURED else contextlib.nullcontext()
        with captured:
            code = run(args)
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return reader_gone()
    except InrganError as e:
        if debug:
            raise
        print(f"inrgan-export: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("inrgan-export: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        print("inrgan-export: error: out of memory: the input is too large for this machine; "
              "use a smaller --size, fewer images or a smaller --max-memory", file=sys.stderr)
        return 2
    except OSError as e:
        if _interrupted(e):
            print("inrgan-export: interrupted", file=sys.stderr)
            return 130
        err = system_error(e)
        if err is None or debug:
            raise
        print(f"inrgan-export: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        err = missing_extra(e, f"inrgan-export {argv[0] if argv else ''}".strip())
        if err is None or debug:
            raise
        print(f"inrgan-export: error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as e:  # noqa: BLE001 - last resort: one line, exit 1
        if _interrupted(e):  # an interrupt wrapped by a library (torch.onnx's exporter does)
            print("inrgan-export: interrupted", file=sys.stderr)
            return 130
        if debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"inrgan-export: internal error: {type(e).__name__}: {msg} (run with --debug for a traceback)", file=sys.stderr)
        return 1
    finally:
        signals.restore(previous)
        log.QUIET, log.VERBOSE = quiet, verbose


def reader_gone() -> int:
    """``inrgan-export inspect B --json | head -c 10``: the reader closed the pipe. Like every
    command-line tool, stop quietly with exit 0; stdout goes to /dev/null so that Python's own
    flush at exit does not report the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor
        pass
    finally:
        os.close(devnull)
    return 0


#: errors with their own one-line message: the captured library output is not replayed for them
EXPECTED = (InrganError, OSError, MemoryError, ModuleNotFoundError)


#: errno values that mean "this output or input cannot be used here" (bad input: exit 2)
SYSTEM_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large for the file system",
    errno.ENAMETOOLONG: "file name too long",
}

def _interrupted(e: BaseException) -> bool:
    """True if ``e`` is, or was caused by, an interrupt (a signal arrived during the run)."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return signals.received() is not None


#: errno values of a user path that is not what it should be (a folder where a file is
#: expected, a dangling symlink or a loop, ...): bad input, exit 2, named by the OS's words
PATH_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.ELOOP, errno.EEXIST, errno.ENOTEMPTY,
               errno.EXDEV, errno.EINVAL, errno.ETXTBSY, errno.EBUSY, errno.ENXIO, errno.ENODEV,
               errno.EMLINK, errno.ESPIPE, errno.EIO, errno.EMFILE, errno.ENFILE}


def system_error(e: OSError) -> UsageError | None:
    """Disk full, permission denied, a folder where a file belongs and the like: one line
    naming the file, exit 2. An OSError without an errno is a bug of ours (None)."""
    where = f" ({e.filename})" if e.filename else ""
    what = SYSTEM_ERRNOS.get(e.errno or -1)
    if what is not None:
        return UsageError(f"{what}{where}: nothing was published; free space, fix permissions or choose another output")
    if e.errno in PATH_ERRNOS:
        link = f" -> {e.filename2}" if getattr(e, "filename2", None) else ""
        return UsageError(f"{os.strerror(e.errno).lower()}{where}{link}: this path cannot be used; "
                          "choose a regular file or folder you own")
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
