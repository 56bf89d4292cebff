"""Text, time and version normalisation."""

from __future__ import annotations

import pyarrow as pa

from reviewmine.process import clean


def norm(*texts):
    return clean.normalise_text(pa.array(list(texts), pa.string())).to_pylist()


def test_mojibake_entities_controls_and_spaces_are_repaired():
    assert norm("Itâ€™s  great &amp; calm\u200b\x07 ", "line\r\nbreak<br/>tag") == [
        "It's great & calm",
        "line\nbreak\ntag",
    ]


def test_emoji_are_kept_in_text_and_removed_in_the_emoji_free_column():
    text = pa.array(["Love it 😍😍!", "💯", "plain"])
    assert clean.normalise_text(text).to_pylist() == ["Love it 😍😍!", "💯", "plain"]
    assert clean.strip_emoji(text).to_pylist() == ["Love it!", "", "plain"]
    assert clean.count_emoji(text).to_pylist() == [2, 1, 0]


def test_blank_lines_are_limited_and_null_becomes_empty():
    assert norm("a\n\n\n\nb", None) == ["a\n\nb", ""]


def test_versions_are_normalised_for_trends():
    parts = clean.normalise_version(pa.array(["v11.46.2 (1234)", "6.89", "11.046", "", None, "beta"]))
    assert parts["app_version"].to_pylist() == ["11.46.2", "6.89", "11.046", None, None, None]
    assert parts["version_major_minor"].to_pylist() == ["11.46", "6.89", "11.46", None, None, None]
    assert parts["version_minor"].to_pylist() == [46, 89, 46, None, None, None]


def test_times_respect_offsets_and_read_naive_times_as_utc():
    values = pa.array(["2024-03-05T10:00:00+02:00", "2024-03-05 10:00:00", "", "yesterday-ish", "1700000000"])
    parsed, bad = clean.parse_times(values)
    iso = [None if v is None else v.isoformat() for v in parsed.to_pylist()]
    assert iso[:3] == ["2024-03-05T08:00:00+00:00", "2024-03-05T10:00:00+00:00", None]
    assert iso[3] is None and iso[4] == "2023-11-14T22:13:20+00:00"
    assert bad.tolist() == [False, False, False, True, False]


def test_naive_times_can_be_read_in_another_zone():
    parsed, _ = clean.parse_times(pa.array(["2024-07-01 12:00:00"]), assume_tz="America/New_York")
    assert parsed[0].as_py().isoformat() == "2024-07-01T16:00:00+00:00"


def test_app_names_become_slugs():
    assert clean.slugify(pa.array(["7 Cups", "Calm", "Café Zen!", "calm"])).to_pylist() == [
        "7-cups", "calm", "cafe-zen", "calm",
    ]


def test_fingerprint_ignores_case_punctuation_and_emoji():
    fp = clean.fingerprint_text(pa.array(["Great app!!  Love it 😊", "great app, love it"]))
    assert fp[0] == fp[1]
