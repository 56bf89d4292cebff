"""Hostile inputs for the accurate coding tier: missing or corrupt model files, empty and
very long texts. Each bad model file is one line naming it and the rebuild command, exit 2."""

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from reviewmine.analyze import accurate
from reviewmine.analyze.accurate import (
    ACCURATE_META,
    ACCURATE_MODEL,
    ACCURATE_TOKENIZER,
    AccurateCoder,
)
from reviewmine.analyze.factors import MAX_CHARS
from reviewmine.cli import app

runner = CliRunner()


@pytest.fixture()
def models(tmp_path, monkeypatch):
    """A copy of the accurate tier's files that the commands load instead of the shipped ones."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name in (ACCURATE_MODEL, ACCURATE_META, ACCURATE_TOKENIZER):
        shutil.copy(accurate.shipped_model_path(name), folder / name)
    monkeypatch.setattr(accurate, "shipped_model_path", lambda name: folder / name)
    return folder


@pytest.fixture()
def reviews(tmp_path):
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"uid": ["a"], "text": ["It crashes every time."]}).to_csv(path, index=False)
    return path


def _code(reviews, tmp_path):
    return runner.invoke(app, ["code", str(reviews), "--out", str(tmp_path / "out.csv"), "--coder", "accurate"])


def _one_line_naming(result, path) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(path) in lines[0].replace("\n", "")
    assert "python -m training.train_accurate model --finetune" in lines[0]


@pytest.mark.parametrize("name", [ACCURATE_MODEL, ACCURATE_META, ACCURATE_TOKENIZER])
def test_missing_model_file_is_one_line_with_the_rebuild_command(models, reviews, tmp_path, name):
    (models / name).unlink()
    result = _code(reviews, tmp_path)
    _one_line_naming(result, models / name)
    assert "missing" in result.output
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name", [ACCURATE_MODEL, ACCURATE_TOKENIZER])
def test_corrupt_weights_or_tokenizer_fail_their_checksum(models, reviews, tmp_path, name):
    data = bytearray((models / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / name).write_bytes(bytes(data))
    result = _code(reviews, tmp_path)
    _one_line_naming(result, models / name)
    assert "SHA-256" in result.output


def test_truncated_model_description_is_one_line(models, reviews, tmp_path):
    path = models / ACCURATE_META
    path.write_text(path.read_text()[:100])
    _one_line_naming(_code(reviews, tmp_path), path)


def test_description_without_thresholds_is_one_line(models, reviews, tmp_path):
    path = models / ACCURATE_META
    meta = json.loads(path.read_text())
    del meta["thresholds"]
    path.write_text(json.dumps(meta))
    _one_line_naming(_code(reviews, tmp_path), path)


def test_weights_that_onnxruntime_cannot_load_are_one_line(models, reviews, tmp_path):
    import hashlib

    model, meta_path = models / ACCURATE_MODEL, models / ACCURATE_META
    model.write_bytes(b"not an onnx model")
    meta = json.loads(meta_path.read_text())
    meta["model_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()  # passes the checksum
    meta_path.write_text(json.dumps(meta))
    result = _code(reviews, tmp_path)
    _one_line_naming(result, model)
    assert "cannot be loaded" in result.output


def test_analyze_refuses_before_writing_anything(models, tmp_path):
    from reviewmine.config import sample_dir
    from reviewmine.process import process

    (models / ACCURATE_MODEL).unlink()
    sample = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    sample.head(5).to_csv(tmp_path / "five.csv", index=False)
    data_dir = tmp_path / "data"
    process(data_dir, inputs=[tmp_path / "five.csv"], include_raw=False, key_file=tmp_path / "key")
    result = runner.invoke(app, ["analyze", "--data-dir", str(data_dir), "--no-topics", "--coder", "accurate"])
    assert result.exit_code == 2, result.output
    assert ACCURATE_MODEL in result.output
    assert not (data_dir / "processed" / "analyze_summary.json").exists()


def test_empty_and_missing_texts_get_no_codes():
    results = AccurateCoder().code_texts(["", "   ", None, "."], ["", "", None, ""])  # type: ignore[list-item]
    assert [r.codes for r in results] == [[], [], [], []]
    assert [r.truncated for r in results] == [False] * 4


def test_a_20000_character_text_is_coded_on_its_start_and_flagged():
    text = "The app crashes every time I open it. " * 530  # ~20,000 characters
    assert len(text) > 20_000 - 200
    result = AccurateCoder().code_texts([text])[0]
    assert result.truncated
    codes = {h.code: h for h in result.codes}
    assert "technical_issues" in codes
    assert codes["technical_issues"].evidence in text[:MAX_CHARS]
