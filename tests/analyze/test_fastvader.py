"""FastVader must give exactly VADER's compound score (vaderSentiment 3.3.2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reviewmine.analyze.fastvader import FastVader
from reviewmine.analyze.sentences import split_sentences

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "reviews_sample.csv"

TRICKY = [
    # empty, whitespace, punctuation only
    "", " ", "   ", "\t\n", "\u00a0", "\u2003 \u3000", ".", "...", "!", "!!!!", "??", "?", "?!?!",
    "!!!!!!!!", "???????", ":)", ":(", ":-)", ":D", "<3", "</3", ";)", "- - -", "''", '"good"',
    # plain words, punctuation emphasis
    "good", "Good.", "good!", "good!!", "good!!!!", "good!!!!!!!", "good?", "good??", "good???",
    "good????", "bad!!!", "bad??", "Is it good?", "Is it good??", "Is it bad???!!!",
    "The book was good.", "The app is ok", "okay", "meh", "It works", "It crashes", "crashes",
    "This app has a paywall", "paywall!!", "It helped my depression and anxiety",
    "depression", "anxiety", "My anxiety is gone", "DEPRESSION sucks",
    # negations
    "not good", "Not good", "NOT GOOD", "not bad", "isn't bad at all", "It isn't bad at all",
    "Not bad at all", "never so happy", "I was never so happy", "never this good",
    "It has never been this good!", "Sentiment analysis has never been good.",
    "without doubt good", "Without a doubt, excellent idea.", "Without a doubt, an excellent idea.",
    "without any doubt it is great", "no good", "no no good", "no problem", "No problems at all",
    "no", "No.", "no or bad", "no fun nor joy", "no, not bad", "nothing good", "nope not great",
    "don't like it", "dont like it", "DON'T like it", "I can't say it's great", "cant complain",
    "wasn't happy", "hadn't enjoyed", "aint bad", "ain't bad", "uh-uh good", "uhuh good",
    "neither good nor bad", "nor good", "rarely good", "seldom bad", "despite good reviews",
    "not very good", "not really good", "not so bad", "not the best", "isn't the worst",
    "couldn't be happier", "shouldn't have bought it", "wouldn't recommend", "won't work",
    "doesn't help", "it didn't help at all", "n't good", "xn't good", "weren't bad",
    # boosters and dampeners
    "very good", "VERY good", "very GOOD", "VERY GOOD", "very very good", "extremely bad",
    "really really bad", "so good", "so so good", "The app is so good", "is so good",
    "I think this good app", "this good", "this app is so good", "absolutely love it",
    "slightly annoying", "barely works", "hardly helpful", "kinda nice", "sorta bad",
    "kind of good", "kind of bad", "a kind of good", "a b c d kind of good",
    "that is kind of bad", "sort of good", "I sort of like it", "just enough fun",
    "it is just enough fun", "it was kind-of great", "kindof great", "the kind people",
    "kind", "kind of", "they are so kind of nice", "KIND of good", "kind OF good",
    "fucking great", "FUCKING great app", "freaking great", "uber cool", "friggin awesome",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is smart, handsome, and funny.", "VADER is not smart, handsome, nor funny.",
    "more fun", "most fun", "less fun", "little help", "almost perfect", "hardly ever good",
    # least
    "least", "least good", "the least good", "at least good", "very least good",
    "At least it isn't a horrible book.", "one of the least compelling variations",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "the least bad option", "LEAST good", "least least good",
    # but
    "but", "good but bad", "Good but bad", "bad BUT good", "good, but bad", "good but, bad",
    "good but good", "good good but", "love but hope", "love hope but", "love but (-:",
    "love (-: but", "but good", "good but", "but but good but bad", "butter is good",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today only kinda sux! But I'll get by, lol", "great app but crashes all the time",
    "I love it but the paywall is annoying", "like but ok", "okay but like",
    # all caps among lowercase
    "GOOD", "GOOD app", "good APP", "Today SUX!", "I HATE this app", "I LOVE THIS APP",
    "THIS APP IS GREAT", "This app is GREAT!!!", "BAD bad Bad", "NOT bad", "NO good",
    "A good", "I good", "OK", "OK ok", "LOL", "lol", "LOL this is fun", "WOW",
    # idioms and special cases
    "the bomb", "this app is the bomb", "the app was the bomb", "the shit",
    "this app is the shit", "With VADER, sentiment analysis is the shit!",
    "Most automated sentiment analysis tools are shit.", "bad ass", "what a bad ass app",
    "On the other hand, VADER is quite bad ass", "VADER is such a badass!",
    "Not such a badass after all.", "yeah right", "yeah right it works",
    "oh yeah right that helps", "kiss of death", "that was the kiss of death for me",
    "to die for", "this app is to die for", "i would die for this", "beating heart",
    "my beating heart", "at the bus stop", "I waited at the bus stop happily",
    "cut the mustard", "it does not cut the mustard", "hand to mouth", "back handed",
    "blow smoke", "upper hand", "break a leg", "cooking with gas", "in the black",
    "in the red", "on the ball", "under the weather", "I am under the weather today",
    # emojis and emoticons
    "😀", "😢", "❤️", "😀😢❤️", "😀 😢 ❤️", "happy 😀", "happy😀", "😀happy", "😀 happy",
    "sad😢😢😢", "👍", "👍👍👍", "👎", "💩", "🙂🙃", "I ❤ this app", "I ❤️ this app!",
    "🔛", "🔛 good", "good 🔛", "🆙🆙", "🆙 good!!", "👍🏽", "👨‍👩‍👧", "🇺🇸",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁", "Make sure you :) or :D today!",
    "It Will Be Much Better If You Remove The Payment Method 😔💖", "😀 but 😢", "😢 but 😀",
    "\u2764", "\u263a", "©", "™ good", "good ™", "no 😀", "not 😀",
    # non-ASCII, non-English
    "très bien", "C'est génial!", "Ich bin überrascht zu sehen, wie nützlich es ist!",
    "Я удивлен увидеть, как полезно!", "私は驚いています!", "我很惊讶!",
    "أنا مندهش لرؤية فقط كيف مثير للدهشة", "İyi", "İ good", "ǅ good", "ﬁne", "Good’s",
    "It’s great", "it’s not great", "don’t like it", "“great” app", "«bon»", "naïve café",
    # tokens around the two-character stripping rule
    "ok!", "!ok", "(ok)", "..ok..", "a!", "!!good!!", "'bad'", "(good)", "---good---",
    "no!", "not!", "but!", "least!", "kind!", "of!", "so!", "very!", "never!",
    # long texts
    "good " * 300,
    "Love the sleep stories but it crashes constantly. " * 40,
    ("I really don't like the new update, it is not good at all and kind of slow! " * 25)
    + "But the meditations are great 😀❤️",
]  # fmt: skip


def _variants(texts: list[str]) -> list[str]:
    out = list(texts)
    for text in texts:
        if len(text) > 200:
            continue
        out += [
            text.upper(),
            f"Honestly I think that {text}",
            f"{text}!!!",
            f"{text} ?",
            f"😀 {text}",
            f"{text} but it crashes",
        ]
    return out


CASES = _variants(TRICKY)


def _modify(analyzer: SentimentIntensityAnalyzer) -> SentimentIntensityAnalyzer:
    analyzer.lexicon.pop("depression")
    analyzer.lexicon.pop("anxiety")
    analyzer.lexicon["crashes"] = -2.0
    analyzer.lexicon["paywall"] = -1.8
    return analyzer


@pytest.fixture(scope="module", params=["plain", "modified"])
def pair(request) -> tuple[SentimentIntensityAnalyzer, FastVader]:
    analyzer = SentimentIntensityAnalyzer()
    if request.param == "modified":
        _modify(analyzer)
    return analyzer, FastVader.from_analyzer(analyzer)


def _check(analyzer: SentimentIntensityAnalyzer, fast: FastVader, texts: list[str]) -> None:
    expected = [analyzer.polarity_scores(text)["compound"] for text in texts]
    got = fast.compound_many(texts)
    bad = [
        (text, e, g) for text, e, g in zip(texts, expected, got, strict=True) if repr(e) != repr(g)
    ]
    assert not bad, f"{len(bad)} mismatches, e.g. {bad[:5]}"
    # second pass: answers from the memo and the warm token cache
    assert fast.compound_many(texts) == got


def test_enough_tricky_cases():
    assert len(CASES) > 500


def test_tricky_strings(pair):
    analyzer, fast = pair
    _check(analyzer, fast, CASES)


def test_tricky_strings_without_caches(pair):
    analyzer, _ = pair
    fast = FastVader.from_analyzer(analyzer, memo_size=0, token_cache_size=1)
    _check(analyzer, fast, CASES)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)


def test_sample_sentences_and_texts(pair, sample):
    analyzer, fast = pair
    texts = sample["text"].tolist()
    assert len(texts) == 3273
    sentences = [s for text in texts for s in split_sentences(text)]
    assert len(sentences) > len(texts)
    _check(analyzer, fast, sentences)
    _check(analyzer, fast, texts)


def test_odd_lexicons():
    """Control words put into the lexicon, int and zero valences, removed idiom words."""
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(
        {"very": 1.0, "least": -1, "never": -1.5, "so": 0.5, "but": 2, "of": 0, "not": 1.1,
         "at": 0.3, "without": -2, "kinda": 1.0, "the": 0.7, "crashes": -2, "this": 1.0}
    )  # fmt: skip
    for word in ("kind", "bomb", "doubt"):
        analyzer.lexicon.pop(word)
    _check(analyzer, FastVader.from_analyzer(analyzer), CASES)


def test_vader_quirks_are_reproduced():
    analyzer = SentimentIntensityAnalyzer()
    fast = FastVader.from_analyzer(analyzer)
    vader = analyzer.polarity_scores
    # "but" rescales the first entry equal to the current value: "(-:" (1.6) equals
    # love's 3.2 * 0.5, so love's entry is halved twice and "(-:" is not boosted.
    assert fast.compound("love but (-:") == vader("love but (-:")["compound"]
    assert fast.compound("love but (-:") == fast.compound("love (-: but")
    # (never and so/this) or so/this: "so"/"this" right before a word boosts it by 1.25
    # once three words precede it.
    assert fast.compound("I think this good app") > fast.compound("this app is good")
    # idioms and "kind of" are only looked at when three words precede the word
    assert fast.compound("the bomb") == vader("the bomb")["compound"] < 0
    assert fast.compound("kind of good") == fast.compound("good")
    # "!" inside an emoji description counts as emphasis
    assert fast.compound("🔛 good") == vader("🔛 good")["compound"] > fast.compound("good")


def test_empty_and_api():
    analyzer = SentimentIntensityAnalyzer()
    fast = FastVader(analyzer.lexicon, analyzer.emojis)
    assert fast.compound("") == 0.0
    assert fast.compound_many([]) == []
    assert fast.compound_many(["good", "", "bad"]) == [
        analyzer.polarity_scores(t)["compound"] for t in ["good", "", "bad"]
    ]


def test_memo_is_bounded():
    analyzer = SentimentIntensityAnalyzer()
    fast = FastVader.from_analyzer(analyzer, memo_size=3, token_cache_size=5)
    texts = [f"good {i} app" for i in range(20)] + ["bad"] * 3
    assert fast.compound_many(texts) == [analyzer.polarity_scores(t)["compound"] for t in texts]
    assert len(fast._memo or {}) <= 3
    assert len(fast._tokens) <= 5
