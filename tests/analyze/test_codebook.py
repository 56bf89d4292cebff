from pathlib import Path

import pytest

from reviewmine.analyze.codebook import format_codes, load_codebook, parse_codes
from reviewmine.errors import CodebookError

SPEC_IDS = [
    "mental_health_status", "health_insight", "sense_of_control", "perceived_benefit",
    "motivation_expectations", "time_routine_fit", "digital_skills", "personalization",
    "social_connectedness", "human_support", "content_quality", "credibility_trust",
    "reminders_notifications", "progress_feedback_gamification", "chatbot_quality",
    "crisis_safety", "technical_issues", "usability_design", "privacy_security",
    "cost_monetization", "accessibility_availability", "customer_support", "care_integration",
]  # fmt: skip


def test_shipped_codebook_has_exactly_the_spec_ids():
    cb = load_codebook()
    assert cb.ids == SPEC_IDS
    assert "Borghouts" in cb.citation and "10.2196/24387" in cb.citation
    assert {c.category for c in cb.codes} == {"user", "program", "technology"}


def test_codes_round_trip_sorted():
    codes = parse_codes("technical_issues:barrier|cost_monetization:barrier")
    assert format_codes(codes) == "cost_monetization:barrier|technical_issues:barrier"
    assert parse_codes(float("nan")) == {} and parse_codes("") == {}


ONE_CODE = "codes:\n  - {id: a, label: A, category: user, description: x}\n"


def test_shipped_codebook_carries_the_coding_rules():
    """The original rules and the ten tightened in issue 13, in order, as one-line texts."""
    rules = load_codebook().coding_rules
    ids = [r.id for r in rules]
    assert ids[-10:] == [f"R{i}" for i in range(1, 11)] and {"G1", "C1"} <= set(ids)
    r1 = next(r for r in rules if r.id == "R1")
    assert r1.rule.startswith("Free is praise.") and "\n" not in r1.rule


def test_coding_rules_are_optional(tmp_path: Path):
    path = tmp_path / "cb.yaml"
    path.write_text(ONE_CODE)
    assert load_codebook(path).coding_rules == ()


@pytest.mark.parametrize(
    "body, message",
    [
        ("codes:\n  - {id: a, label: A, category: user, description: x}\n  - {id: a, label: A, category: user, description: y}\n", "duplicate id 'a'"),
        ("codes:\n  - {id: a, label: A, category: user}\n", "lacks required field(s) description"),
        ("codes:\n  - {id: a, label: A, category: other, description: x}\n", "category 'other'"),
        ("codes:\n  - {id: a, label: A, category: user, description: x, cues: ['(']}\n", "not a valid regex"),
        ("name: x\n", "top-level 'codes:' list"),
        ("codes: [\n", "not valid YAML (expected the node content"),
        (f"coding_rules: 'be kind'\n{ONE_CODE}", "'coding_rules' must be a list"),
        (f"coding_rules: [R1]\n{ONE_CODE}", "coding rule #1 is not a mapping"),
        (f"coding_rules: [{{id: R1}}]\n{ONE_CODE}", "coding rule #1 lacks required field(s) rule"),
        (f"coding_rules: [{{id: R1, rule: x, when: y}}]\n{ONE_CODE}", "unknown key 'when'"),
        (f"coding_rules: [{{id: R1, rule: ''}}]\n{ONE_CODE}", "'rule' is empty"),
        (f"coding_rules: [{{id: 1, rule: x}}]\n{ONE_CODE}", "'id' must be text, not int"),
        (f"coding_rules: [{{id: R1, rule: x}}, {{id: R1, rule: y}}]\n{ONE_CODE}", "duplicate id 'R1'"),
    ],
)
def test_bad_codebooks_fail_with_one_clear_line(tmp_path: Path, body: str, message: str):
    path = tmp_path / "cb.yaml"
    path.write_text(body)
    with pytest.raises(CodebookError) as err:
        load_codebook(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_codebook_file(tmp_path: Path):
    with pytest.raises(CodebookError, match="not found"):
        load_codebook(tmp_path / "nope.yaml")


@pytest.mark.parametrize("key", ["context", "praise", "figurative", "literal"])
def test_context_and_praise_patterns_are_checked_like_cues(tmp_path: Path, key: str):
    path = tmp_path / "cb.yaml"
    path.write_text(f"codes:\n  - {{id: a, label: A, category: user, description: x, {key}: ['(x+)+']}}\n")
    with pytest.raises(CodebookError, match="nested quantifier"):
        load_codebook(path)
    path.write_text(f"codes:\n  - {{id: a, label: A, category: user, description: x, {key}: 'free'}}\n")
    with pytest.raises(CodebookError, match=f"'{key}' must be a list"):
        load_codebook(path)


def test_shipped_codebook_gates_chatbot_quality_and_praises_free():
    cb = load_codebook()
    assert cb["chatbot_quality"].context and cb["cost_monetization"].praise
    assert cb["reminders_notifications"].figurative and cb["reminders_notifications"].literal
