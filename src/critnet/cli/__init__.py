"""The ``critnet`` command. Thin: every subcommand parses arguments and calls the library.

Subcommands live in their own modules and are imported only when used, so ``critnet --help``
stays fast (it lists :data:`SUMMARIES` and imports no subcommand), fusing never imports what
training needs, and one broken extra never takes the whole command down. A command that needs
the torch extra in an install without it says so in one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import warnings

import click

from critnet.errors import CritnetError

# name -> "module:attribute"; each module defines one click command (or group).
SUBCOMMANDS = {
    "fuse": "critnet.cli.fuse:fuse",
    "demo": "critnet.cli.demo:demo",
    "evaluate": "critnet.cli.evaluate:evaluate",
    "train": "critnet.cli.train:train",
    "bench": "critnet.cli.bench:bench",
    "serve": "critnet.cli.serve:serve",
    "export": "critnet.cli.export:export",
    "data": "critnet.cli.data:data",
}

#: name -> the command's one-line summary for ``critnet --help`` (each command's short help;
#: tests/test_runtime_install.py keeps them equal), so that listing imports no command module.
SUMMARIES = {
    "fuse": "Fuse infrared and visible images with C-RITNet.",
    "demo": "Fuse a built-in night scene and write the inputs, the result and a comparison "
            "panel.",
    "evaluate": "Score fused images against their IR/VIS pairs and print a table of means.",
    "train": "Train C-RITNet with the mutual promotion training paradigm.",
    "bench": "Reproduce the paper's evaluation: tables, plots and comparison figures.",
    "serve": "Serve a local web page: upload an IR and a visible image (or pick a built-in "
             "scene), see IR / visible / fused side by side, swipe or blend, zoom, read the "
             "metrics and download the fused PNG.",
    "export": "Export C-RITNet to ONNX (opset 17; needs the extra: pip install "
              "'critnet[torch]').",
    "data": "Public datasets: download them, checked file by file.",
}
#: Modules of the ``critnet[torch]`` extra: a command missing one names the extra.
TORCH_EXTRA_MODULES = ("torch", "safetensors", "kornia", "yaml", "matplotlib", "onnx")


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if self._spec_available(name))

    @staticmethod
    def _spec_available(name: str) -> bool:
        module = SUBCOMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = [(name, _shortened(SUMMARIES[name], limit)) for name in names]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS or not self._spec_available(name):
            return None
        module, attr = SUBCOMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="critnet")
def cli() -> None:
    """critnet: infrared-visible image fusion with C-RITNet.

    \b
    Start here:
      critnet demo                       fuse a built-in example, no input needed
      critnet fuse IR.png VIS.png -o fused.png
      critnet fuse --ir IR_DIR --vis VIS_DIR -o OUT_DIR
      critnet evaluate --ir IR_DIR --vis VIS_DIR --fused OUT_DIR
      critnet train --config configs/cpu.yaml
      critnet train --ir IR_DIR --vis VIS_DIR --out RUN --init lite
      critnet serve                      a local web page to fuse and compare

    Run any subcommand with --help for its options.
    """


def _shortened(text: str, limit: int) -> str:
    """``text`` cut at a word to at most ``limit`` characters with ``...`` (as click does)."""
    if len(text) <= limit:
        return text
    return text[:max(limit - 3, 1)].rsplit(" ", 1)[0].rstrip(" ,;:") + "..."


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback;
    Python warnings become one line too (no source line)."""
    shown = warnings.showwarning
    warnings.showwarning = _warning_line
    try:
        _main(argv)
    finally:
        warnings.showwarning = shown


def _warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    click.echo(f"critnet: warning: {for_cli(str(message))}", err=True)


def for_cli(message: str) -> str:
    """A library message as the command line shows it: the Python keyword offered beside an
    option (``--resize-ir (resize_ir=True)``, ``--max-pixels / max_pixels=``) is left out."""
    message = re.sub(r"\s*\((?:[a-z_]+=[\w.]*)\)", "", message)
    return re.sub(r"(--[a-z][a-z0-9-]*)\s*/\s*[a-z_]+=[\w.]*", r"\1", message)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, standalone_mode=False)
    except CritnetError as error:
        click.echo(f"critnet: error: {for_cli(str(error))}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in TORCH_EXTRA_MODULES:
            raise
        from critnet.pipeline.runtime import TORCH_EXTRA

        args = sys.argv[1:] if argv is None else argv
        what = next((f"critnet {a}" for a in args if a in SUBCOMMANDS), "this")
        click.echo(f"critnet: error: {what} needs {error.name}, which this install lacks: "
                   f"{TORCH_EXTRA}", err=True)
        sys.exit(2)
    except (MemoryError, RuntimeError) as error:
        if not _out_of_memory(error):
            raise
        click.echo(f"critnet: error: not enough memory{_request(error)}; for a large frame fuse "
                   f"it in tiles (critnet fuse --tile auto) or on a smaller frame", err=True)
        sys.exit(2)
    except OSError as error:  # an output or input failing outside the library's own checks
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"critnet: error: {where}{error.strerror or error}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("critnet: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)


def _out_of_memory(error: BaseException) -> bool:
    """``MemoryError``, or torch's allocation failures (CPU or CUDA) raised as RuntimeError."""
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(
        sign in text for sign in ("not enough memory", "out of memory", "failed to allocate",
                                  "can't allocate memory", "cannot allocate memory"))


def _request(error: BaseException) -> str:
    """`` (an allocation of 768 MB failed)`` when torch names the size, else empty."""
    found = re.search(r"allocate (\d+) bytes", str(error))
    return f" (an allocation of {int(found[1]) / 1e6:.0f} MB failed)" if found else ""
