import pytest

from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.factors import FactorCoder


@pytest.fixture(scope="module")
def coder():
    return FactorCoder()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Crashes every time I open it. Useless until they fix the bug.", "technical_issues:barrier"),
        ("Everything is behind a paywall and the subscription is way too expensive.", "cost_monetization:barrier"),
        ("The sleep stories and the huge variety of meditations are wonderful.", "content_quality:facilitator"),
        ("Since using it I sleep so much better and my anxiety has improved.", "perceived_benefit:facilitator"),
    ],
)
def test_clear_reviews_get_their_code_and_polarity(coder, text, expected):
    coded = coder.code_texts([text])[0]
    assert expected in coded.serialised.split("|")


def test_every_code_has_evidence_from_the_review(coder):
    text = "Love the calming voices. But it keeps crashing and support never answered my emails."
    coded = coder.code_texts([text])[0]
    assert coded.codes
    for hit in coded.codes:
        assert hit.evidence and hit.evidence in text
        assert 0.0 <= hit.probability <= 1.0


def test_mixed_review_gets_one_polarity_per_code(coder):
    coded = coder.code_texts(["Great content but too expensive for me, I can't afford the subscription."])[0]
    codes = dict(item.split(":") for item in coded.serialised.split("|"))
    assert codes.get("cost_monetization") == "barrier"


@pytest.mark.parametrize("text", ["", "👍👍👍", "<b>&nbsp;</b>", "Muy buena aplicación", "a" * 100_000])
def test_odd_inputs_never_crash(coder, text):
    coded = coder.code_texts([text])[0]
    assert -1.0 <= coded.sentiment <= 1.0


def test_long_texts_are_marked_truncated(coder):
    assert coder.code_texts(["word " * 30_000])[0].truncated


def test_generic_praise_gets_no_code(coder):
    assert coder.code_texts(["Good app"])[0].serialised == ""


def test_cue_only_coder_works_without_weights():
    coder = FactorCoder(use_model=False)
    assert coder.method == "cues"
    coded = coder.code_texts(["The app crashes all the time"])[0]
    assert "technical_issues:barrier" in coded.serialised


def test_custom_codebook_without_model_labels_falls_back_to_cues(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "codes:\n  - id: ads\n    label: Ads\n    category: technology\n    description: Advertising\n    cues: ['ads?', 'adverts?']\n"
    )
    coder = FactorCoder(load_codebook(path))
    assert coder.method == "cues"
    assert coder.code_texts(["Too many ads, unbearable"])[0].serialised == "ads:barrier"


def test_codes_the_model_lacks_are_found_by_their_cues(coder):
    assert coder.method == "cues+model"
    assert coder.cue_only_codes == {c for c in coder.codebook.ids if c not in coder.presence.labels}
    missing = sorted(coder.cue_only_codes)
    if "digital_skills" in missing:
        coded = coder.code_texts(["I am not tech savvy and got lost in it"])[0]
        assert "digital_skills:" in coded.serialised


def test_user_codes_added_to_the_shipped_codebook_use_cues_beside_the_model(tmp_path):
    import yaml

    from reviewmine.analyze.codebook import shipped_codebook_path

    data = yaml.safe_load(shipped_codebook_path().read_text())
    data["codes"].append({"id": "ads", "label": "Ads", "category": "technology", "description": "Advertising", "cues": ["ads?"]})
    path = tmp_path / "extended.yaml"
    path.write_text(yaml.safe_dump(data))
    coder = FactorCoder(load_codebook(path))
    assert coder.method == "cues+model" and "ads" in coder.cue_only_codes
    codes = coder.code_texts(["Way too many ads and it crashes every time I open it"])[0].serialised
    assert "ads:barrier" in codes and "technical_issues:barrier" in codes

def test_required_literals_and_prefiltered_cues_agree_with_plain_regexes():

    from reviewmine.analyze.codebook import load_codebook
    from reviewmine.analyze.factors import CueMatcher, required_literals

    assert required_literals(r"(a|)b?") is None
    assert required_literals(r"x{2,}yz") == {"yz"}
    assert required_literals(r"help(s|ed)? me|paid") == {"help", "paid"}
    codebook = load_codebook()
    matcher = CueMatcher(codebook)
    plain = _plain_patterns(codebook)
    sentences = [
        "It crashes every time and the PAYWALL is insane",
        "My therapist recommended it; helps me sleep",
        "Woebot doesn't understand me at all",
        "no code here at all",
        "",
    ]
    for sentence, hits in zip(sentences, matcher.match_sentences(sentences), strict=True):
        expected = {
            code: [m.group(0).lower() for m in p.finditer(sentence)] for code, p in plain.items() if p.search(sentence)
        }
        assert hits == expected


def test_cue_matching_equals_plain_case_insensitive_regexes_on_tricky_text(tmp_path):

    import yaml

    from reviewmine.analyze.codebook import load_codebook, shipped_codebook_path
    from reviewmine.analyze.factors import CueMatcher

    raw = yaml.safe_load(shipped_codebook_path().read_text())
    raw["codes"].append(
        {
            "id": "user_extra",
            "label": "User extra",
            "category": "user",
            "description": "a user's own cues",
            "cues": [r"\x41pp store", r"(?-i:US)", "İstanbul", "sıkıntı", "^why", r"sucks$", "[A-Z]{2}X"],
        }
    )
    path = tmp_path / "cb.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    codebook = load_codebook(path)
    matcher = CueMatcher(codebook)
    plain = _plain_patterns(codebook)
    reviews = [
        ["App Store is fine", "only the US version", "IOS crashes all the time"],
        ["It's fine.", "why does it crash", "this sucks"],
        ["SIKINTI var", "İstanbul servers", "ISTANBUL servers are down"],
        ["it craſhes and the ads are everywhere", "the KX plan"],
        ["Σ and ς", "İADS and the subscription"],
    ]
    for sentences in reviews:
        expected = [
            {code: [m.group(0).lower() for m in p.finditer(s)] for code, p in plain.items() if p.search(s)}
            for s in sentences
        ]
        assert matcher.match_sentences(sentences) == expected, sentences


def test_codebook_rejects_a_cue_that_cannot_be_combined():
    import tempfile
    from pathlib import Path

    from reviewmine.analyze.codebook import load_codebook
    from reviewmine.errors import CodebookError

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cb.yaml"
        path.write_text("codes:\n  - {id: a, label: A, category: user, description: x, cues: ['(?i)ads?']}\n")
        with pytest.raises(CodebookError, match="inline flags scoped"):
            load_codebook(path)


def test_a_worker_that_dies_gives_a_clear_error():
    import os

    from reviewmine.analyze.factors import FactorCoder, code_batches
    from reviewmine.errors import ReviewmineError

    def die(results):
        os._exit(3)

    coder = FactorCoder(use_model=False)
    batches = [(["it crashes"], None)] * 4
    with pytest.raises(ReviewmineError, match="worker process died"):
        list(code_batches(coder, batches, workers=2, finish=die))


def test_workers_get_the_coder_through_the_pool_initializer():
    """Workers code with the coder the initializer gave them; the parent keeps no module
    global pointing at it while they run, and the results equal in-process coding."""
    import os

    from reviewmine.analyze import factors

    coder = factors.FactorCoder(use_model=False)
    batches = [(["it crashes all the time"], None), (["calming sleep sounds"], None), (["too expensive"], ["Price"])]
    running = factors.code_batches(coder, batches, workers=2, finish=lambda results: (os.getpid(), results))
    pooled = [next(running)]
    assert not any(value is coder for value in vars(factors).values())
    assert factors._WorkerJob.coder is None and factors._WorkerJob.finish is None
    pooled += list(running)
    assert all(pid != os.getpid() for pid, _ in pooled)
    assert [results for _, results in pooled] == [coder.code_texts(*batch) for batch in batches]


def _plain_patterns(codebook):
    """Each code's cues as one case-insensitive whole-word regex: the reference behaviour."""
    import re

    return {
        c.id: re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{cue})" for cue in c.cues) + r")(?!\w)", re.IGNORECASE)
        for c in codebook.codes
        if c.cues
    }
