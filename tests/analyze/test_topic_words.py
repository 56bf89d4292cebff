"""Topic words a researcher can read (issue 14): representations on small synthetic corpora,
labels, the factor mapping of a money topic, the metrics' keys, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.analyze.test_topic_estimators import ThemeEmbedder, ThreeGroups, corpus

from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.topic_metrics import factor_agreement, topic_quality
from reviewmine.analyze.topics import ReviewTopicModel, stop_words
from reviewmine.analyze.topics.words import (
    TopicWords,
    inflection_stem,
    name_words,
    scaled_min_df,
    topic_label,
    variant_map,
)
from reviewmine.errors import InputError


def themed(rng: np.random.Generator, words: str, n: int, extra: str = "") -> list[str]:
    vocabulary = words.split()
    return [f"I think {' '.join(rng.choice(vocabulary, 4, replace=False))} {extra}".strip() for _ in range(n)]


def fit_words(texts: list[str], topics: list[int], **kwargs) -> TopicWords:
    return TopicWords(stop_words=stop_words(), **kwargs).fit(texts, topics)


def test_min_df_scales_with_corpus_size():
    assert [scaled_min_df(n) for n in (100, 4000, 15000)] == [3, 20, 75]
    rng = np.random.default_rng(0)
    texts = themed(rng, "sleep night bedtime insomnia dream", 40) + themed(rng, "price money refund charge", 40)
    texts.append("I think sleep night zebra")  # "zebra": in one review only
    words = fit_words(texts, [0] * 40 + [1] * 41)
    assert words.min_df_ == scaled_min_df(81) and "zebra" not in words.vocabulary_
    assert fit_words(texts, [0] * 40 + [1] * 41, min_df=1).min_df_ == 1


def test_one_off_misspelling_and_a_name_never_lead_a_topic():
    rng = np.random.default_rng(1)
    texts = themed(rng, "meditation calm breathing focus session", 60, extra="with Tamara's voice")
    texts += themed(rng, "price money refund charge subscription", 60)
    texts[0] += " medidation"  # a one-off misspelling
    texts[1] += " and Tamara reads it"
    words = fit_words(texts, [0] * 60 + [1] * 60, min_df=1)
    all_terms = {w for terms in words.topic_terms.values() for t in terms for w in t.split()}
    assert "tamara" in words.names_ and "tamara" not in all_terms
    assert "medidation" not in all_terms and words.canon_["medidation"] == "meditation"
    assert "meditation" in words.topic_terms[0]


def test_recurring_phrase_kept_and_a_chance_pair_split():
    rng = np.random.default_rng(2)
    texts = themed(rng, "price money refund charge", 50, extra="after the free trial")
    texts += themed(rng, "sleep night bedtime insomnia", 50, extra="and free stories")
    texts[0] += " sleep charge"  # two frequent words side by side a few times
    texts[1] += " sleep charge"
    texts[2] += " sleep charge"
    words = fit_words(texts, [0] * 50 + [1] * 50, min_df=3)
    assert "free trial" in words.vocabulary_
    assert "sleep charge" not in words.vocabulary_  # 3 reviews, far below 10% of either word's
    assert "free trial" in words.topic_terms[0]
    assert "trial" not in words.topic_terms[0]  # already inside the phrase


def test_variants_are_merged():
    df = {"meditation": 300, "meditations": 40, "medidation": 4, "crash": 10, "crashes": 30,
          "crashing": 8, "story": 20, "stories": 90, "calm": 600, "call": 50}
    canon = variant_map(df)
    assert canon["meditations"] == canon["medidation"] == "meditation"
    assert canon["crash"] == canon["crashing"] == "crashes"
    assert canon["story"] == "stories"
    assert canon["call"] == "call"  # short words are not typos of a frequent neighbour
    assert inflection_stem("stopping") == inflection_stem("stop") == "stop"


def test_names_are_title_case_words_inside_sentences():
    texts = ["I talk to Luna every day. Luna is kind", "Then Luna said hi", "my Luna helps", "Sleep is AI good"] * 2
    names = name_words(texts)
    assert "luna" in names
    assert "ai" not in names  # an acronym is not a name
    assert "sleep" not in names  # only ever at the start of a sentence


def test_label_from_own_terms():
    assert topic_label(["free trial", "free", "subscription", "charged", "money"]) == "free trial, subscription, charged"
    assert topic_label(["asleep", "fall", "stress", "peaceful", "fall asleep"]) == "fall asleep, stress, peaceful"
    assert topic_label([]) == ""


@pytest.fixture(scope="module")
def money_model():
    """Discovered topics only (no codebook topics), three themes, fitted on toy vectors."""
    model = ReviewTopicModel(embeddings=ThemeEmbedder(), clusterer=ThreeGroups(), zeroshot=False,
                             zeroshot_threshold=0.5, min_df=2)
    return model.fit(corpus(30))


def test_money_topic_is_mapped_to_cost_and_labelled_by_its_words(money_model):
    model = money_model
    table = model.topic_table()
    money = table[table["words"].str.contains("subscription|refund|money")]
    assert len(money) == 1 and money["factor"].iloc[0] == "cost_monetization"
    assert not money["is_zeroshot"].iloc[0]
    labels = load_codebook()
    factor_labels = {c.label.lower() for c in labels.codes}
    for _, row in table[table.topic_id != -1].iterrows():
        assert row["label"] and not any(f in row["label"].lower() for f in factor_labels)
        assert set(row["label"].replace(",", " ").split()) <= set(row["words"].replace("_", " ").split())
        if not row["factor"]:
            assert row["factor_label"] == "" and row["is_emerging"]


def test_cue_share_maps_only_a_clear_majority(money_model):
    model = money_model
    money = [{"cost_monetization"}] * 5 + [{"technical_issues"}] * 2 + [set()] * 3
    assert model._cue_factor(money) == "cost_monetization"
    assert model._cue_factor([{"cost_monetization"}] * 3 + [set()] * 7) is None  # under map_share
    mixed = [{"cost_monetization"}] * 5 + [{"technical_issues"}] * 4 + [set()]
    assert model._cue_factor(mixed) is None  # not twice the runner-up
    assert model._cue_factor([set()] * 4) is None


def test_metrics_keys_and_agreement():
    topics = [["price", "money", "refund"], ["sleep", "night", "bedtime"]]
    docs = ["price money refund", "sleep night bedtime", "price money", "sleep bedtime"]
    quality = topic_quality(topics, docs, outliers=1)
    assert set(quality) == {"topics", "npmi", "diversity", "outlier_share"}
    codes = [{"cost_monetization"}, {"perceived_benefit"}, {"cost_monetization", "technical_issues"}, set()]
    result = factor_agreement({0: "cost_monetization", 1: "content_quality"}, [0, 1, 0, 1], codes)
    assert result == {"mapped_topics": 2, "agreeing_topics": 1, "agreement": 0.5}
    assert factor_agreement({}, [0, 1], [set(), set()])["agreement"] is None


def test_old_model_version_is_refused_in_one_line(money_model, tmp_path):
    money_model.save(tmp_path / "model")
    manifest = tmp_path / "model" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["model_version"] = 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"topic model version 1, this reviewmine reads version 2; refit it"):
        ReviewTopicModel.load(tmp_path / "model", embeddings=ThemeEmbedder())


def test_bertopic_import_leaves_heavy_modules_importable():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from reviewmine.analyze.topics.bertopic_adapter import import_bertopic, LAZY_HEAVY_MODULES\n"
        "import_bertopic()\n"
        "assert all(sys.modules.get(m, 1) is not None for m in LAZY_HEAVY_MODULES), 'left hidden'\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
