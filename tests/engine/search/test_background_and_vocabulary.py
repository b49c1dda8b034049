"""The arithmetic behind match strength and closeness, the verdict's words, and the unknown-word rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.models.encoder import learned_logit_scale
from engine.search.background import image_background, text_background
from engine.search.verdict import IMAGE_SCALE, TEXT_SCALE, QueryFacts, verdict
from engine.search.vocabulary import is_unknown, text_is_readable, unknown_words
from engine.types import MatchLevel


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_strength_is_the_rise_above_the_null_prompts_mean_in_their_spread():
    rng = np.random.default_rng(0)
    nulls, sample, figures = _unit(rng.normal(size=(25, 16))), _unit(rng.normal(size=(200, 16))), _unit(
        rng.normal(size=(50, 16))
    )
    background = text_background(nulls, sample)
    residuals = sample @ nulls.T - (sample @ nulls.T).mean(axis=1, keepdims=True)
    assert background.spread == pytest.approx(float(np.sqrt(np.mean(residuals**2))), rel=1e-5)
    query = _unit(rng.normal(size=(1, 16)))[0]
    similarities, levels, strengths = background.strengths(query, figures)
    np.testing.assert_allclose(levels, (figures @ nulls.T).mean(axis=1), atol=1e-6)  # the null prompts' mean
    np.testing.assert_allclose(strengths, (figures @ query - levels) / background.spread, atol=1e-5)
    # Ranking by cosine with the retrieval direction is ranking by strength (what the ANN index is asked).
    direction = background.retrieval_vector(query)
    assert np.argsort(-(figures @ direction)).tolist() == np.argsort(-strengths).tolist()
    assert text_background(nulls, np.zeros((0, 16), np.float32)).spread == 1.0  # an empty library


def test_closeness_is_zero_at_the_library_average_and_one_hundred_at_identical():
    rng = np.random.default_rng(1)
    sample = _unit(rng.normal(size=(100, 8)))
    query = sample[3]
    background = image_background(query, sample)
    assert background.level == pytest.approx(float(np.mean(sample @ query)), abs=1e-6)
    closeness = background.closeness(np.array([1.0, background.level, (1 + background.level) / 2]))
    np.testing.assert_allclose(closeness, [100.0, 0.0, 50.0], atol=1e-4)


def test_levels_and_the_verdict_sentence():
    assert [TEXT_SCALE.level(x) for x in (3.0, 2.7, 2.4)] == [MatchLevel.STRONG, MatchLevel.WEAK, MatchLevel.NONE]
    assert IMAGE_SCALE.level(99.6) is MatchLevel.NEAR_IDENTICAL and IMAGE_SCALE.level(99.6, identical=True) is (
        MatchLevel.IDENTICAL
    )
    assert IMAGE_SCALE.level(92) is MatchLevel.STRONG and IMAGE_SCALE.level(70) is MatchLevel.NONE
    strong = verdict(TEXT_SCALE, 4.2, 12, QueryFacts(text="chest film"))
    assert strong.level is MatchLevel.STRONG and strong.message == "Strong matches for “chest film”."
    unread = verdict(TEXT_SCALE, 2.9, 3, QueryFacts(text="xkcd", unreadable_words=("xkcd",), readable=False))
    assert unread.level is MatchLevel.NONE  # a query the model cannot read is never judged by its vectors
    assert unread.message == "No clear match for “xkcd”: this model does not know xkcd; the 3 closest are shown, but " \
                             "they are weak."
    phrase = verdict(TEXT_SCALE, 1.0, 4, QueryFacts(text='"lane 1"', phrases=("lane 1",)))
    assert phrase.level is MatchLevel.WEAK and phrase.message.startswith("4 caption(s) contain “lane 1”")
    assert verdict(TEXT_SCALE, None, 0, QueryFacts()).message.startswith("The query is empty")
    assert verdict(IMAGE_SCALE, 99.9, 5, QueryFacts(image=True)).level is MatchLevel.STRONG


class _Pieces:
    """An encoder whose tokenizer knows a handful of words and splits the rest into letters (like the demo's)."""

    known = {"chest", "radiograph", "gel", "lanes"}

    def word_pieces(self, word):
        if word in self.known:
            return [word]
        if not word.isascii():
            return ["[UNK]"]
        return [word[0], *(f"##{c}" for c in word[1:])]


def test_a_word_is_unknown_when_it_becomes_unk_or_single_letters():
    assert is_unknown("pneumothorax", ["p", "##n", "##e"]) and is_unknown("胸部", ["[UNK]"]) and is_unknown("x", [])
    assert not is_unknown("x", ["x"]) and not is_unknown("pneumothorax", ["pneumo", "##thorax"])
    assert not is_unknown("anything", None)  # a tokenizer that cannot say (byte-level BPE) loses no word
    assert unknown_words(_Pieces(), ["chest", "pneumothorax", "胸部", "lanes"]) == ["pneumothorax", "胸部"]
    assert unknown_words(object(), ["pneumothorax"]) == []
    assert text_is_readable(_Pieces(), "a chest radiograph") and not text_is_readable(_Pieces(), "a CT scan")


def test_the_models_learned_temperature_is_used_and_an_untrained_one_is_not():
    model = torch.nn.Module()
    model.logit_scale = torch.nn.Parameter(torch.tensor(math.log(14.7)))
    assert learned_logit_scale(model) == pytest.approx(14.7, rel=1e-5)
    model.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))  # CLIP's initial value
    assert learned_logit_scale(model) is None
    assert learned_logit_scale(torch.nn.Linear(2, 2)) is None
