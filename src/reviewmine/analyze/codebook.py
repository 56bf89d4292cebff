"""The engagement-factor codebook: a validated, editable data file.

The shipped codebook (``codebooks/borghouts2021.yaml``) follows Borghouts et al. 2021;
a researcher can pass their own YAML with the same fields.

>>> cb = load_codebook()
>>> cb["technical_issues"].category
'technology'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from reviewmine.errors import CodebookError

POLARITIES = ("barrier", "facilitator", "neutral")
CATEGORIES = ("user", "program", "technology")
REQUIRED_FIELDS = ("id", "category", "description")


@dataclass(frozen=True)
class FactorCode:
    """One engagement factor of the codebook."""

    id: str
    category: str
    description: str
    label: str = ""
    source: str = ""
    barrier_examples: tuple[str, ...] = ()
    facilitator_examples: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()

    def exemplars(self) -> list[str]:
        """Description and examples: the texts that say what this code is about."""
        return [self.description, *self.barrier_examples, *self.facilitator_examples]


@dataclass(frozen=True)
class Codebook:
    """An ordered set of ``FactorCode`` s with their citation."""

    name: str
    codes: tuple[FactorCode, ...]
    citation: str = ""
    categories: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.codes]

    def __getitem__(self, code_id: str) -> FactorCode:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    def __contains__(self, code_id: object) -> bool:
        return any(c.id == code_id for c in self.codes)

    def __len__(self) -> int:
        return len(self.codes)


def shipped_codebook_path() -> Path:
    return Path(str(resources.files("reviewmine.codebooks") / "borghouts2021.yaml"))


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load and validate a codebook YAML (the shipped Borghouts 2021 one by default)."""
    path = Path(path) if path else shipped_codebook_path()
    if path.is_dir():
        raise CodebookError(f"{path}: is a directory; pass a codebook YAML file")
    if not path.is_file():
        raise CodebookError(f"{path}: codebook file not found; pass an existing YAML file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CodebookError(f"{path}: not UTF-8 text (byte {exc.start}); re-save it as UTF-8") from exc
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CodebookError(f"{path}: not valid YAML ({problem}{where}); fix the syntax") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("codes"), list) or not raw["codes"]:
        raise CodebookError(f"{path}: needs a top-level 'codes:' list with at least one code")
    codes: list[FactorCode] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["codes"], 1):
        codes.append(_parse_code(path, i, entry, seen))
    return Codebook(
        name=str(raw.get("name") or path.stem),
        codes=tuple(codes),
        citation=str(raw.get("citation") or ""),
        categories=dict(raw.get("categories") or {}),
    )


def _parse_code(path: Path, i: int, entry: object, seen: set[str]) -> FactorCode:
    where = f"{path}: code #{i}"
    if not isinstance(entry, dict):
        raise CodebookError(f"{where} is not a mapping; write it as 'id: ..., category: ...'")
    missing = [f for f in REQUIRED_FIELDS if not entry.get(f)]
    if missing:
        raise CodebookError(f"{where} lacks required field(s) {', '.join(missing)}")
    code_id = str(entry["id"])
    if not re.fullmatch(r"[a-z][a-z0-9_]*", code_id):
        raise CodebookError(f"{where}: id '{code_id}' must be lower_snake_case")
    if code_id in seen:
        raise CodebookError(f"{where}: duplicate id '{code_id}'; every code id must be unique")
    seen.add(code_id)
    if entry["category"] not in CATEGORIES:
        raise CodebookError(
            f"{where} ('{code_id}'): category '{entry['category']}' is not one of {', '.join(CATEGORIES)}"
        )
    cues = tuple(str(c) for c in entry.get("cues") or ())
    for cue in cues:
        try:
            re.compile(cue_pattern([cue]))  # as the coder uses it: inside a group
        except re.error as exc:
            raise CodebookError(
                f"{where} ('{code_id}'): cue {cue!r} is not a valid regex here ({exc}); "
                "write inline flags scoped, e.g. (?-i:US), or drop them (cues ignore case)"
            ) from exc
    return FactorCode(
        id=code_id,
        category=str(entry["category"]),
        description=str(entry["description"]),
        label=str(entry.get("label") or code_id.replace("_", " ").capitalize()),
        source=str(entry.get("source") or ""),
        barrier_examples=tuple(str(x) for x in entry.get("barrier_examples") or ()),
        facilitator_examples=tuple(str(x) for x in entry.get("facilitator_examples") or ()),
        cues=cues,
    )


def cue_pattern(cues) -> str:
    """One regex for ``cues``: any of them, as whole words (never inside a longer word)."""
    return r"(?<!\w)(?:" + "|".join(f"(?:{cue})" for cue in cues) + r")(?!\w)"


def parse_codes(serialised: object) -> dict[str, str]:
    """Parse ``code:polarity|code:polarity`` into ``{code: polarity}`` (empty for NaN/'')."""
    if serialised is None or (isinstance(serialised, float) and serialised != serialised):
        return {}
    result: dict[str, str] = {}
    for item in str(serialised).split("|"):
        item = item.strip()
        if not item:
            continue
        code, _, polarity = item.partition(":")
        result[code.strip()] = polarity.strip() or "neutral"
    return result


def format_codes(codes: dict[str, str]) -> str:
    """Serialise ``{code: polarity}`` as the codebook says: sorted by code id, joined by ``|``."""
    return "|".join(f"{c}:{codes[c]}" for c in sorted(codes))
