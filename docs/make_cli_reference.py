"""Regenerate docs/cli.md from the commands' own --help (run from the repository root)."""

from __future__ import annotations

import os
from pathlib import Path

import click
import typer
from typer.testing import CliRunner

os.environ["COLUMNS"] = "100"
os.environ["TERM"] = "dumb"

from reviewmine.cli import app  # noqa: E402

INTRO = """# CLI reference

Every command is also a Python function of the same name and options (see the README). This
file is generated from the commands' own help by `python docs/make_cli_reference.py`; a test
checks that it lists every command.

Exit codes: `0` success; `1` the run finished but something failed (e.g. an app that could not
be collected); `2` bad input, printed as one line naming the problem and the fix.
"""


def command_names() -> list[str]:
    group = typer.main.get_command(app)
    return list(group.list_commands(click.Context(group)))


def main() -> None:
    runner = CliRunner()
    parts = [INTRO]
    for name in ["", *command_names()]:
        args = [name, "--help"] if name else ["--help"]
        text = runner.invoke(app, args, prog_name="reviewmine", terminal_width=100).output
        lines = [line.rstrip() for line in text.strip("\n").splitlines()]
        parts.append(f"## reviewmine {name}".rstrip() + "\n\n```\n" + "\n".join(lines).strip() + "\n```\n")
    Path("docs/cli.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
