"""CLI and library are the same thing: every option of a command is named like the parameter
of the library function the command calls, and the workflows' defaults follow the stages'."""

from __future__ import annotations

import inspect

import click
import pytest
from typer.main import get_command

from reviewmine import catalog, collect, evaluate, explore, process, report, workflow
from reviewmine.analyze import analyze, coding, topics
from reviewmine.cli import app

LIBRARY = {
    "collect": collect.collect,
    "apps": catalog.apps,
    "code": coding.code,
    "evaluate": evaluate.evaluate,
    "sample-for-coding": evaluate.sample_for_coding,
    "process": process.process,
    "export": workflow.export,
    "analyze": analyze,
    "demo": workflow.demo,
    "topics": topics.topics,
    "report": report.report,
    "run": workflow.run,
    "explore": explore.explore,
}
COMMANDS = get_command(app).commands


def _spellings(param: click.Parameter) -> set[str]:
    """The Python names an option's spellings stand for: ``--no-raw`` -> ``no_raw``."""
    return {o.lstrip("-").replace("-", "_") for o in [*param.opts, *param.secondary_opts]}


def test_every_command_has_its_library_function():
    assert set(COMMANDS) == set(LIBRARY)


@pytest.mark.parametrize("command", sorted(LIBRARY))
def test_every_option_is_named_like_a_parameter_of_the_function_it_calls(command):
    parameters = set(inspect.signature(LIBRARY[command]).parameters)
    wrong = [
        f"{'/'.join(p.opts + p.secondary_opts)} ({p.name})"
        for p in COMMANDS[command].params
        if p.name not in parameters or p.name not in _spellings(p)
    ]
    assert not wrong, f"reviewmine {command}: not named like a parameter of {LIBRARY[command].__qualname__}: {wrong}"


@pytest.mark.parametrize(
    ("command", "old", "new"),
    [("report", "--quotes", "--quotes-per-cell"), ("report", "--run", "--run-name"), ("process", "--input", "--inputs"),
     ("process", "--map", "--column-map"), ("process", "--no-raw", "--include-raw"), ("evaluate", "--json", "--json-out"),
     ("code", "--no-model", "--use-model"), ("analyze", "--language", "--languages")],
)
def test_old_option_spellings_keep_working_beside_the_parameter_names(command, old, new):
    spellings = {s for p in COMMANDS[command].params for s in [*p.opts, *p.secondary_opts]}
    assert {old, new} <= spellings


def test_data_dir_options_default_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REVIEWMINE_DATA_DIR", str(tmp_path / "elsewhere"))
    for command in ("collect", "process", "export", "analyze", "run", "explore"):
        option = next(p for p in COMMANDS[command].params if p.name == "data_dir")
        ctx = click.Context(COMMANDS[command])
        assert option.process_value(ctx, None) == tmp_path / "elsewhere", command
    demo = next(p for p in COMMANDS["demo"].params if p.name == "data_dir")
    assert str(demo.get_default(click.Context(COMMANDS["demo"]))) == "data/demo"
