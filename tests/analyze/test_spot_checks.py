"""A researcher's spot-checks of the coder (issue 13), as tests, for both tiers.

Each pattern the spot-check found wrong is checked on several reviews written the way app
reviews are written; each has a counterpart that must keep its code, so a rule that simply
switched a code off would fail too. The coding rules they follow (R1-R7) are in the
codebook (``coding_rules``) and docs/coding.md; the accurate tier applies them to its
encoder's decisions as the fast tier does to its linear model's.
"""

from __future__ import annotations

import pytest

from reviewmine.analyze.accurate import CODERS, make_coder
from reviewmine.analyze.factors import FactorCoder


@pytest.fixture(scope="module", params=CODERS)
def coder(request) -> FactorCoder:
    return make_coder(request.param)


def codes_of(coder: FactorCoder, text: str, title: str = "") -> dict[str, str]:
    return {h.code: h.polarity for h in coder.code_texts([text], [title])[0].codes}


FREE_PRAISE = [  # (title, text) of 4-5 star reviews
    ("Best meditation app", "Completely free and no ads! The sleep stories are lovely and I use it every night."),
    ("", "Unlike other apps it's free, you don't have to pay for a subscription to use the good stuff. Thank you!"),
    ("Love it", "No ads, no paywall, just calm. I have recommended it to everyone."),
    ("", "I was surprised that everything is free. Other apps charge you $70 a year for this. Five stars."),
    ("So good", "Finally an app that doesn't ask for money every five minutes. Totally free and really helps my anxiety."),
    ("", "It's free and there are no annoying ads. Great breathing exercises."),
    ("Worth every penny", "Worth the money, I use the sleep sounds every night and sleep so much better."),
]


@pytest.mark.parametrize("title, text", FREE_PRAISE)
def test_praise_for_being_free_is_not_a_cost_barrier(coder, title, text):
    """R1: free, no ads, worth the money = praise; a cost barrier needs a money complaint."""
    assert codes_of(coder, text, title).get("cost_monetization") != "barrier"


@pytest.mark.parametrize(
    "text",
    [
        "Great content but too expensive for me, I can't afford the subscription.",
        "The free version is useless, everything is locked behind a $70 paywall.",
        "Love the app but it is not free anymore, they charge you after the trial.",
    ],
)
def test_money_complaints_stay_cost_barriers(coder, text):
    assert codes_of(coder, text).get("cost_monetization") == "barrier"


@pytest.mark.parametrize(
    "title, text, code",
    [
        ("Reminder", "This app is a good reminder to slow down and breathe during a stressful day.", "reminders_notifications"),
        ("Reminder to breathe", "Helps me take a minute for myself. Love the short meditations.", "reminders_notifications"),
        ("", "I will tell my friends about this app, it helped me sleep.", "social_connectedness"),
        ("", "Great app, I've already told all my friends to download it.", "social_connectedness"),
        ("", "Would recommend to friends and family. The courses are excellent.", "social_connectedness"),
    ],
)
def test_one_cue_word_does_not_decide_a_code(coder, title, text, code):
    """R6, R7: a title word or "tell my friends" is not a reminder or social connectedness."""
    assert code not in codes_of(coder, text, title)


@pytest.mark.parametrize(
    "text, code",
    [
        ("The daily reminder notification keeps me consistent, I never miss a session.", "reminders_notifications"),
        ("It spams me with notifications all day long.", "reminders_notifications"),
        ("A good reminder to slow down, and the daily reminder notification keeps me consistent.", "reminders_notifications"),
        ("The community is so supportive, I feel less alone reading other people's posts.", "social_connectedness"),
    ],
)
def test_reminders_and_community_are_still_found(coder, text, code):
    assert code in codes_of(coder, text)


@pytest.mark.parametrize(
    "text",
    [
        "The AI voice in the sleep meditations is soothing and the music is beautiful.",
        "Love the guided meditations. The new AI feature that suggests sessions is neat.",
        "The voice of the narrator is so calming, I fall asleep in minutes.",
        "Meditations are AI generated now and they feel soulless.",
        "Beautiful sleep stories, and the AI narrator sounds almost human.",
    ],
)
def test_meditation_reviews_about_ai_or_a_voice_are_not_chatbot_quality(coder, text):
    """R5: chatbot_quality needs a conversational agent, not the word AI or a voice."""
    assert "chatbot_quality" not in codes_of(coder, text)


@pytest.mark.parametrize(
    "text",
    [
        "The chatbot doesn't understand what I say and keeps repeating the same lines.",
        "I love talking to it, the AI actually understands me and answers like a real person.",
    ],
)
def test_chatbot_reviews_are_still_chatbot_quality(coder, text):
    assert "chatbot_quality" in codes_of(coder, text)


@pytest.mark.parametrize(
    "text, code",
    [
        ("No bugs, never crashed once in two years. Solid app.", "technical_issues"),
        ("Other apps kept crashing on me but this one works perfectly.", "technical_issues"),
        ("Unlike other apps that are full of ads and paywalls, this one is calm and simple.", "cost_monetization"),
        ("Easy to use and no glitches, the sessions never lag.", "technical_issues"),
        ("Not confusing at all, never crashed and no ads.", "technical_issues"),
        ("I tried other apps like Calm and they were too expensive, this one is just right.", "cost_monetization"),
    ],
)
def test_negations_and_other_apps_are_not_barriers_of_this_app(coder, text, code):
    """R2, R3: "no bugs" is a merit; what other apps do is not this app's barrier."""
    assert codes_of(coder, text).get(code) != "barrier"


@pytest.mark.parametrize(
    "text, code",
    [
        ("It crashes every time I open it and I lost all my entries.", "technical_issues"),
        ("Not helpful at all, it made my anxiety worse.", "perceived_benefit"),
        ("It doesn't work offline, so I can't use it on the plane.", "accessibility_availability"),
    ],
)
def test_real_problems_and_negated_merits_stay_barriers(coder, text, code):
    assert codes_of(coder, text).get(code) == "barrier"


@pytest.mark.parametrize(
    "text", ["Great", "Love it", "Bad", "Good app", "Nice", "Helpful", "ok", "Amazing!!", "Terrible app", "Best app ever"]
)
def test_bare_verdicts_get_no_code(coder, text):
    """R4: a bare verdict says nothing about any factor."""
    assert codes_of(coder, text) == {}


@pytest.mark.parametrize(
    "text, code, polarity",
    [
        ("Too expensive", "cost_monetization", "barrier"),
        ("Very relaxing", "perceived_benefit", "facilitator"),
        ("Keeps crashing", "technical_issues", "barrier"),
        ("Crashes, too expensive", "technical_issues", "barrier"),
    ],
)
def test_short_reviews_get_at_most_one_code_their_words_name(coder, text, code, polarity):
    """R4: one to three words get at most one code, and only one their words name."""
    found = codes_of(coder, text)
    assert len(found) == 1
    if len(text.split()) == 2:
        assert found == {code: polarity}


def test_a_user_codebooks_context_and_praise_apply_without_the_model(tmp_path):
    """The rules come from the codebook, so a researcher's own codebook gets them too."""
    from reviewmine.analyze.codebook import load_codebook

    path = tmp_path / "cb.yaml"
    path.write_text(
        "codes:\n"
        "  - {id: bot, label: Bot, category: program, description: chatbot, cues: ['ai'], context: ['chat(ting)?']}\n"
        "  - {id: money, label: Money, category: technology, description: cost, cues: ['free', 'pay'],\n"
        "     praise: ['(completely )?free']}\n"
    )
    coder = FactorCoder(codebook=load_codebook(path), use_model=False)
    texts = ["The AI voice is lovely and soothing.", "Chatting with the AI is lovely.",
             "Completely free, sadly the rest is awful and boring.", "Not free at all, awful."]
    # Without a model the evidence sentence's tone gives the polarity: the praise rule turns
    # the third (a negative sentence) to facilitator; "not free" is a complaint.
    assert [r.serialised for r in coder.code_texts(texts)] == ["", "bot:facilitator", "money:facilitator", "money:barrier"]


def test_a_user_codebooks_figurative_words_need_a_literal_one(tmp_path):
    """R7 from the codebook: a figurative phrase alone does not give the code; the code's cue
    or a literal word outside the phrase does."""
    from reviewmine.analyze.codebook import load_codebook

    path = tmp_path / "cb.yaml"
    path.write_text(
        "codes:\n"
        "  - {id: nudge, label: Nudge, category: program, description: reminders, cues: ['reminders?'],\n"
        "     figurative: ['(?:a|good) reminder to'], literal: ['notifications?']}\n"
    )
    coder = FactorCoder(codebook=load_codebook(path), use_model=False)
    texts = ["A good reminder to breathe.", "A good reminder to breathe, and the notifications are gentle.",
             "The reminder is gentle.", "A good reminder to breathe. The reminder is gentle."]
    assert [bool(r.serialised) for r in coder.code_texts(texts)] == [False, True, True, True]
