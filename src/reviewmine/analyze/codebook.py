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
REQUIRED_FIELDS = ("id", "label", "category", "description")
OPTIONAL_FIELDS = (
    "source", "barrier_examples", "facilitator_examples", "cues", "context", "praise", "figurative", "literal"
)
TOP_LEVEL_FIELDS = ("name", "version", "citation", "categories", "coding_rules", "codes")
RULE_FIELDS = ("id", "rule")


@dataclass(frozen=True)
class CodingRule:
    """One rule of how to code (e.g. R1 "free is praise"), shown to coders with the codes."""

    id: str
    rule: str


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
    context: tuple[str, ...] = ()  # the review must match one of these for the code (R5)
    praise: tuple[str, ...] = ()  # cue words that praise the factor ("free", "no ads"; R1)
    # the factor's word in another sense ("a good reminder to slow down"); a review that has
    # one keeps the code only if its cues or ``literal`` words occur outside it (R7)
    figurative: tuple[str, ...] = ()
    literal: tuple[str, ...] = ()

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
    coding_rules: tuple[CodingRule, ...] = ()

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
    """Load and validate a codebook YAML (the shipped Borghouts 2021 one by default).

    Validation is strict, so a typo cannot silently change the coding: every field has a
    type, unknown keys are rejected, and a cue must be a valid regex that cannot backtrack
    catastrophically (see ``cue_hazard``). Each problem is one ``CodebookError`` line.
    """
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
    _reject_unknown_keys(f"{path}:", raw, TOP_LEVEL_FIELDS)
    for key in ("name", "citation"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise CodebookError(f"{path}: '{key}' must be text; quote it")
    if raw.get("version") is not None and not isinstance(raw["version"], str | int | float):
        raise CodebookError(f"{path}: 'version' must be text such as \"1.0\"; quote it")
    categories = raw.get("categories") or {}
    if not isinstance(categories, dict) or not all(isinstance(v, str) for v in categories.values()):
        raise CodebookError(f"{path}: 'categories' must map each category to a text description")
    unknown = [str(k) for k in categories if k not in CATEGORIES]
    if unknown:
        raise CodebookError(
            f"{path}: 'categories' has unknown category {unknown[0]!r}; use {', '.join(CATEGORIES)}"
        )
    codes: list[FactorCode] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["codes"], 1):
        codes.append(_parse_code(path, i, entry, seen))
    return Codebook(
        name=raw.get("name") or path.stem,
        codes=tuple(codes),
        citation=raw.get("citation") or "",
        categories=dict(categories),
        coding_rules=_parse_rules(path, raw.get("coding_rules")),
    )


def _parse_rules(path: Path, raw: object) -> tuple[CodingRule, ...]:
    """The optional ``coding_rules:`` list of ``{id, rule}`` mappings (ids unique)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CodebookError(
            f"{path}: 'coding_rules' must be a list of 'id: ..., rule: ...' entries, not {type(raw).__name__}"
        )
    rules: list[CodingRule] = []
    for i, entry in enumerate(raw, 1):
        where = f"{path}: coding rule #{i}"
        if not isinstance(entry, dict):
            raise CodebookError(f"{where} is not a mapping; write it as 'id: R1, rule: ...'")
        _reject_unknown_keys(f"{where}:", entry, RULE_FIELDS)
        missing = [f for f in RULE_FIELDS if f not in entry]
        if missing:
            raise CodebookError(f"{where} lacks required field(s) {', '.join(missing)}; add them")
        rule_id = _text(where, entry, "id")
        if any(r.id == rule_id for r in rules):
            raise CodebookError(f"{where}: duplicate id '{rule_id}'; every rule id must be unique")
        rules.append(CodingRule(rule_id, " ".join(_text(where, entry, "rule").split())))
    return tuple(rules)


def _reject_unknown_keys(where: str, entry: dict, allowed: tuple[str, ...]) -> None:
    unknown = [str(k) for k in entry if k not in allowed]
    if unknown:
        raise CodebookError(
            f"{where} unknown key {unknown[0]!r}; allowed keys are {', '.join(allowed)} "
            "(check the spelling)"
        )


def _text(where: str, entry: dict, key: str) -> str:
    """A text field: a non-empty string (YAML turns unquoted yes/1.0/2021 into other types)."""
    value = entry.get(key)
    if not isinstance(value, str):
        raise CodebookError(f"{where}: '{key}' must be text, not {type(value).__name__}; quote it")
    if not value.strip():
        raise CodebookError(f"{where}: '{key}' is empty; write some text or remove the key")
    return value


def _texts(where: str, entry: dict, key: str) -> tuple[str, ...]:
    """A list of non-empty strings (a bare string would be read as a list of characters)."""
    value = entry.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CodebookError(
            f"{where}: '{key}' must be a list, e.g. {key}: [\"first\", \"second\"], "
            f"not {type(value).__name__}"
        )
    for n, item in enumerate(value, 1):
        if not isinstance(item, str) or not item.strip():
            shown = repr(item) if isinstance(item, str) else type(item).__name__
            raise CodebookError(
                f"{where}: item {n} of '{key}' is {shown}; every item must be non-empty text "
                "(quote it, or delete it)"
            )
    return tuple(value)


def _parse_code(path: Path, i: int, entry: object, seen: set[str]) -> FactorCode:
    where = f"{path}: code #{i}"
    if not isinstance(entry, dict):
        raise CodebookError(f"{where} is not a mapping; write it as 'id: ..., category: ...'")
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise CodebookError(f"{where} lacks required field(s) {', '.join(missing)}; add them")
    code_id = _text(where, entry, "id")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", code_id):
        raise CodebookError(f"{where}: id '{code_id}' must be lower_snake_case")
    where = f"{path}: code '{code_id}'"
    if code_id in seen:
        raise CodebookError(f"{where}: duplicate id '{code_id}'; every code id must be unique")
    seen.add(code_id)
    _reject_unknown_keys(f"{where}:", entry, REQUIRED_FIELDS + OPTIONAL_FIELDS)
    category = _text(where, entry, "category")
    if category not in CATEGORIES:
        raise CodebookError(f"{where}: category '{category}' is not one of {', '.join(CATEGORIES)}")
    cues = _texts(where, entry, "cues")
    context = _texts(where, entry, "context")
    praise = _texts(where, entry, "praise")
    figurative = _texts(where, entry, "figurative")
    literal = _texts(where, entry, "literal")
    for cue in (*cues, *context, *praise, *figurative, *literal):
        try:
            re.compile(cue_pattern([cue]))  # as the coder uses it: inside a group
        except re.error as exc:
            raise CodebookError(
                f"{where}: cue {cue!r} is not a valid regex here ({exc}); "
                "write inline flags scoped, e.g. (?-i:US), or drop them (cues ignore case)"
            ) from exc
        hazard = cue_hazard(cue)
        if hazard:
            raise CodebookError(
                f"{where}: cue {cue!r} has {hazard}, which can take minutes on some texts; "
                "rewrite it without a repeat inside a repeat, e.g. '(a+)+' as 'a+'"
            )
    return FactorCode(
        id=code_id,
        category=category,
        description=_text(where, entry, "description"),
        label=_text(where, entry, "label"),
        source=_text(where, entry, "source") if "source" in entry else "",
        barrier_examples=_texts(where, entry, "barrier_examples"),
        facilitator_examples=_texts(where, entry, "facilitator_examples"),
        cues=cues,
        context=context,
        praise=praise,
        figurative=figurative,
        literal=literal,
    )


def parse_tree(pattern: str) -> list | None:
    """The parse tree ``re`` builds for ``pattern`` (``None`` where CPython's internal parser is
    not importable; callers then assume the worst about the pattern)."""
    try:
        import re._parser as parser
    except ImportError:
        return None
    return list(parser.parse(pattern))


def _ops():
    import re._constants as C

    return C


def cue_hazard(cue: str) -> str | None:
    """What makes ``cue`` backtrack exponentially, or ``None``: a variable repeat inside a
    repeat (``(a+)+``, ``(\\w+\\s?)+``, ``(a?a?)+``) or alternatives that can start alike
    inside a repeat (``(a|a)*``; judged by first characters, so ``(\\d|few)+`` is refused too).

    Patterns the parse tree shows nothing wrong with can still be slow (``.*.*x`` is
    polynomial); the coder runs cues that repeat at all under a time limit for that.
    """
    tree = parse_tree(cue)
    if tree is None:
        return None
    C = _ops()
    repeats = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)

    def walk(seq, in_repeat: bool) -> str | None:
        for op, av in seq:
            if op in repeats:
                low, high, body = av
                if in_repeat and high != low:  # even a? inside a repeat: (a?a?)+ splits 2^n ways
                    return "a nested quantifier"
                if high > 1 and _overlapping_branch(body, C):
                    return "overlapping alternatives inside a repeat"
                found = walk(body, in_repeat or high > 1)
            else:
                found = next((h for sub in _children(op, av, C) if (h := walk(sub, in_repeat))), None)
            if found:
                return found
        return None

    return walk(tree, False)


def has_repeat(cue: str) -> bool:
    """Whether ``cue`` can repeat something more than once (``+``, ``*``, ``{2,}``...), i.e.
    whether its running time can grow faster than the text (``True`` when unknown)."""
    tree = parse_tree(cue)
    if tree is None:
        return True
    C = _ops()

    def walk(seq) -> bool:
        for op, av in seq:
            if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
                if av[1] > 1 or walk(av[2]):
                    return True
            elif any(walk(sub) for sub in _children(op, av, C)):
                return True
        return False

    return walk(tree)


def _children(op, av, C) -> list:
    """The sub-sequences of one parse-tree node (groups, alternatives, lookarounds)."""
    if op is C.SUBPATTERN:
        return [av[3]]
    if op is C.ATOMIC_GROUP:
        return [av]
    if op is C.BRANCH:
        return list(av[1])
    if op in (C.ASSERT, C.ASSERT_NOT):
        return [av[1]]
    if op is C.GROUPREF_EXISTS:
        return [x for x in av[1:] if x is not None]
    return []


_ANY = None  # a first-character set that may hold any character


def _first(seq, C) -> tuple[set | None, bool]:
    """The characters a match of ``seq`` can start with (lower-cased; ``None``: any) and
    whether it can match the empty string."""
    chars: set | None = set()
    for op, av in seq:
        if op is C.LITERAL:
            first, empty = {chr(av).lower()}, False
        elif op is C.IN and all(o is C.LITERAL for o, _ in av):
            first, empty = {chr(v).lower() for _, v in av}, False
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            first, empty = set(), True
        elif op is C.SUBPATTERN:
            first, empty = _first(av[3], C)
        elif op is C.ATOMIC_GROUP:
            first, empty = _first(av, C)
        elif op is C.BRANCH:
            parts = [_first(a, C) for a in av[1]]
            first = None if any(p is None for p, _ in parts) else set().union(*(p for p, _ in parts))
            empty = any(e for _, e in parts)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            first, empty = _first(av[2], C)
            empty = empty or av[0] == 0
        else:  # classes, ANY, NOT_LITERAL, back-references
            first, empty = _ANY, op is C.GROUPREF
        chars = None if chars is None or first is None else chars | first
        if not empty:
            return chars, False
    return chars, True


def _overlapping_branch(seq, C) -> bool:
    """Whether ``seq`` holds alternatives that can start the same way (or two that can
    match nothing): inside a repeat, the engine then tries every way to split the text."""
    for op, av in seq:
        if op is C.BRANCH:
            taken: set = set()
            empties = 0
            for alternative in av[1]:
                first, empty = _first(alternative, C)
                empties += empty
                if first is None or taken & first or empties > 1:
                    return True
                taken |= first
        if any(_overlapping_branch(sub, C) for sub in _children(op, av, C)):
            return True
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and _overlapping_branch(av[2], C):
            return True
    return False


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
