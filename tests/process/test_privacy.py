"""Redaction, pseudonyms and the key file."""

from __future__ import annotations

import stat

import pyarrow as pa
import pytest

from reviewmine.errors import ReviewmineError
from reviewmine.process.privacy import (
    Pseudonymiser,
    find_names,
    load_or_create_key,
    redact,
    remove_names,
)


def test_contact_details_become_placeholders():
    texts = pa.array([
        "mail me at jane.doe@example.org!",
        "see https://example.com/x?y=1 or www.calm.com",
        "call +1 (555) 123-4567 or 555-123-4567 now",
        "follow @jane_doe on insta",
    ])
    out, counts = redact(texts)
    assert out.to_pylist() == [
        "mail me at [EMAIL]!",
        "see [URL] or [URL]",
        "call [PHONE] or [PHONE] now",
        "follow [HANDLE] on insta",
    ]
    assert counts == {"email": 1, "url": 2, "phone": 2, "handle": 1}


def test_ordinary_review_text_is_left_alone():
    texts = [
        "Version 11.46.2 crashes since 2024-03-05, paid $69.99 for 12 months",
        "very good.it is great, made a difference.in my life",
        "5 stars, 10/10, 3 times a day",
    ]
    out, counts = redact(pa.array(texts))
    assert out.to_pylist() == texts
    assert sum(counts.values()) == 0


def test_reviewer_name_is_removed_from_their_own_texts():
    texts, changed = remove_names(
        ["Hi Sarah, thanks for the feedback!", "Great app", None],
        ["Sarah Kowalski", "Sarah Kowalski", "Tom"],
    )
    assert texts == ["Hi [NAME], thanks for the feedback!", "Great app", None]
    assert changed == 1


def test_key_is_created_private_and_reused(tmp_path):
    path = tmp_path / "cfg" / "key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_key_inside_the_data_directory_is_refused(tmp_path):
    with pytest.raises(ReviewmineError, match="inside the data directory"):
        load_or_create_key(tmp_path / "data" / "key", data_dir=tmp_path / "data")


def test_pseudonyms_are_stable_per_key_and_hide_the_name():
    first, other = Pseudonymiser(b"a" * 32), Pseudonymiser(b"b" * 32)
    assert first("google_play", "Sarah K.") == first("google_play", "Sarah K.")
    assert first("google_play", "Sarah K.") != other("google_play", "Sarah K.")
    assert "Sarah" not in first("google_play", "Sarah K.")
    assert first("google_play", "A Google user") is None


def test_find_names_reports_where_a_name_leaked():
    leaks = find_names([("a.html", "quote from Sarah"), ("b.csv", "nothing here")], ["Sarah Kowalski"])
    assert [(leak.name, leak.where) for leak in leaks] == [("Sarah", "a.html")]
