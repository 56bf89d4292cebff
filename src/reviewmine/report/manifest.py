"""The run manifest written next to every report: what went in, with which settings, what came out.

``manifest.json`` records each input file with its SHA-256, the report parameters, the
random seeds, the package versions and each output's SHA-256. ``report(from_manifest=...)``
re-runs a report from it, refuses when an input changed, and records which outputs came
out byte-identical.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from reviewmine import versions
from reviewmine.errors import InputError
from reviewmine.io import file_sha256

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
# HTML carries the build time and XLSX its creation time, so only these are compared on a rerun.
REPRODUCIBLE_SUFFIXES = (".csv", ".parquet", ".png", ".svg")


def _describe(path: Path, base: Path) -> dict:
    try:
        shown = str(path.relative_to(base))
    except ValueError:
        shown = str(path)
    size = sum(p.stat().st_size for p in path.rglob("*.parquet")) if path.is_dir() else path.stat().st_size
    return {"path": shown, "sha256": file_sha256(path), "bytes": size}


def build_manifest(
    run_dir: Path,
    data_dir: Path,
    run_name: str,
    inputs: list[Path],
    package_inputs: list[Path],
    parameters: dict,
    seeds: dict,
    outputs: list[Path],
    upstream: dict,
) -> dict:
    """The manifest as a dict (paths of data inputs relative to ``data_dir``, outputs to ``run_dir``)."""
    return {
        "manifest_format": MANIFEST_FORMAT,
        "tool": "reviewmine report",
        "run_name": run_name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(data_dir.resolve()),
        "run_dir": str(run_dir.resolve()),
        "command": _command(data_dir, run_dir, run_name, parameters),
        "parameters": parameters,
        "seeds": seeds,
        "inputs": [_describe(p, data_dir) for p in inputs],
        "package_inputs": [_describe(p, p.parent) | {"path": str(p)} for p in package_inputs],
        "software": versions.software_versions(),
        "upstream": upstream,
        "outputs": [_describe(p, run_dir) for p in sorted(outputs) if p.exists()],
    }


def _command(data_dir: Path, run_dir: Path, run_name: str, parameters: dict) -> str:
    parts = ["reviewmine", "report", "--data-dir", str(data_dir), "--out", str(run_dir)]
    if parameters.get("apps"):
        parts += ["--apps", ",".join(parameters["apps"])]
    return " ".join(parts)


def write_manifest(manifest: dict, run_dir: Path) -> Path:
    from reviewmine.io import write_atomic

    path = run_dir / MANIFEST_NAME
    with write_atomic(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return path


def read_manifest(path: str | Path) -> dict:
    """Read and check a manifest written by ``reviewmine report``."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{path}: manifest not found; pass the manifest.json of a report run")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON manifest ({exc}); pass the manifest.json of a report run") from exc
    missing = [k for k in ("parameters", "inputs", "data_dir", "run_name") if k not in manifest]
    if not isinstance(manifest, dict) or missing:
        raise InputError(f"{path}: not a reviewmine report manifest (lacks {', '.join(missing)})")
    _check_types(manifest, path)
    manifest["_path"] = str(path.resolve())
    return manifest


# The type of each field a rerun reads; an edited manifest fails here with one line.
_FIELD_TYPES = {"data_dir": (str,), "run_name": (str,), "parameters": (dict,), "inputs": (list,)}
_TYPE_NAMES = {str: "text", int: "a whole number", dict: "an object", list: "a list", type(None): "null"}
_PARAMETER_TYPES = {
    "apps": (list, type(None)), "small_n": (int,), "quotes_per_cell": (int,),
    "top_topics_per_app": (int,), "min_version_reviews": (int,), "codebook": (str, type(None)),
}  # fmt: skip


def _check_types(manifest: dict, path: Path) -> None:
    def check(name: str, value, types: tuple) -> None:
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(_TYPE_NAMES[t] for t in types)
            raise InputError(
                f"{path}: {name} is {json.dumps(value)[:40]} but must be {wanted}; "
                "pass the manifest.json a report run wrote, unedited"
            )

    for name, types in _FIELD_TYPES.items():
        check(name, manifest[name], types)
    for name, types in _PARAMETER_TYPES.items():
        if name in manifest["parameters"]:
            check(f"parameters.{name}", manifest["parameters"][name], types)
    for app in manifest["parameters"].get("apps") or []:
        check("an entry of parameters.apps", app, (str,))
    for entry in manifest["inputs"]:
        check("an entry of inputs", entry, (dict,))
        for key in ("path", "sha256"):
            check(f"inputs[].{key}", entry.get(key), (str,))


def changed_inputs(manifest: dict, data_dir: Path) -> list[str]:
    """Inputs of the manifest that are missing or differ now under ``data_dir``."""
    changed = []
    for entry in manifest["inputs"]:
        path = data_dir / entry["path"]
        if not path.exists():
            changed.append(f"{entry['path']} (missing)")
        elif file_sha256(path) != entry["sha256"]:
            changed.append(f"{entry['path']} (sha256 differs)")
    return changed


def compare_outputs(manifest: dict, run_dir: Path) -> dict:
    """Which reproducible outputs of a rerun in ``run_dir`` are byte-identical to the manifest's."""
    identical, different = [], []
    for entry in manifest.get("outputs", []):
        if not entry["path"].endswith(REPRODUCIBLE_SUFFIXES):
            continue
        path = run_dir / entry["path"]
        same = path.exists() and file_sha256(path) == entry["sha256"]
        (identical if same else different).append(entry["path"])
    return {"from_manifest": manifest["_path"], "identical": identical, "different": different}
