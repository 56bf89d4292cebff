import pytest

from reviewmine.analyze.sentences import split_sentences
from reviewmine.analyze.sentiment import DomainVader, SentimentScorer


def test_splits_on_punctuation_newlines_and_contrast():
    assert split_sentences("Great app!! Helps me sleep.\nBut too expensive") == [
        "Great app!!", "Helps me sleep.", "But too expensive",
    ]
    assert split_sentences("Love the sleep stories but it crashes constantly") == [
        "Love the sleep stories", "but it crashes constantly",
    ]


@pytest.mark.parametrize("text", ["", None, "...", "   "])
def test_empty_inputs_give_no_sentences(text):
    assert split_sentences(text) == []


def test_emoji_only_review_is_one_sentence():
    assert split_sentences("👍👍") == ["👍👍"]


def test_huge_text_is_bounded():
    pieces = split_sentences("word " * 30000)
    assert pieces and all(len(p) <= 2000 for p in pieces)


@pytest.fixture(scope="module")
def vader():
    return DomainVader()


def test_clinical_words_are_topics_not_feelings(vader):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    text = "This app really helped my depression and anxiety"
    assert SentimentIntensityAnalyzer().polarity_scores(text)["compound"] < 0
    assert vader.sentence(text) > 0.3


@pytest.mark.parametrize(
    "text", ["Keeps crashing after the update", "Everything is behind a paywall", "Way too buggy and overpriced"]
)
def test_app_review_complaints_are_negative(vader, text):
    assert vader.sentence(text) < -0.2


@pytest.fixture(scope="module")
def scorer():
    return SentimentScorer()


def test_blended_score_orders_praise_above_complaints(scorer):
    good, bad = scorer.score_many(["Helps me sleep so much better, love it", "Crashes constantly, waste of money"])
    assert -1 <= bad.score < 0 < good.score <= 1
    assert good.sentences and good.star_probability > 0.5 > bad.star_probability


def test_explanations_name_the_words(scorer):
    words = [w for w, _ in scorer.explain("Everything is behind a paywall", top=3)]
    assert "paywall" in words


def test_lexicon_only_mode_needs_no_weights():
    scorer = SentimentScorer(use_star_model=False)
    assert scorer.star_model is None
    assert scorer.score("I love this app, it is wonderful") > 0.5
