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
be collected); `2` bad input, printed as one line naming the problem and the fix (also: another
run holds the data directory); `143` / `130` stopped by SIGTERM (`timeout`, cron, systemd) /
Ctrl-C, after removing unfinished outputs and stopping the coding workers.

`collect`, `process`, `analyze`, `report`, `run` and `demo` hold an exclusive lock on
`DATA_DIR/state/.lock` for their whole run, so two of them never write one data directory at
once; the next one exits with code 2 naming the pid that holds it. The kernel drops the lock
when its process dies, however it dies, so a killed run never blocks the next one. Holding the
lock, a command first removes the temporary files killed runs left in the data directory's
raw/, state/, processed/ and reports/ (only our own temporary names, older than the command);
`code` does the same for the temporary files of its `--out`.
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
