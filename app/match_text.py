"""The words and numbers a user sees for a match, shared by the CLI and the GUI (pure functions, no Qt).

What each number means is stated in the README ("What the numbers mean"): match strength for text queries,
closeness 0–100 for image queries, modality probabilities that never round up to 100%.
"""

from __future__ import annotations

import math

from engine.types import MatchLevel, ScoreScale, SearchResult, Verdict

LEVEL_WORDS = {
    MatchLevel.IDENTICAL: "Identical",
    MatchLevel.NEAR_IDENTICAL: "Near-identical",
    MatchLevel.STRONG: "Strong",
    MatchLevel.WEAK: "Weak",
    MatchLevel.NONE: "Closest, but weak",
}
IMAGE_LEVEL_WORDS = {**LEVEL_WORDS, MatchLevel.STRONG: "Similar"}
SCALE_NAMES = {ScoreScale.STRENGTH: "match strength", ScoreScale.CLOSENESS: "closeness"}


def percent(probability: float) -> str:
    """A probability as a whole percentage, rounded down and never "100%": the model is never certain."""
    return f"{min(math.floor(probability * 100), 99)}%"


def score_number(score: float, scale: ScoreScale) -> str:
    """Strength with one decimal; closeness rounded down (never up to 100), with one decimal from 95 up."""
    if scale is ScoreScale.STRENGTH:
        return f"{score:.1f}"
    if score >= 95.0:
        return f"{math.floor(score * 10 + 1e-9) / 10:.1f}"
    return f"{math.floor(score)}"


def level_word(result: SearchResult, scale: ScoreScale) -> str:
    words = IMAGE_LEVEL_WORDS if scale is ScoreScale.CLOSENESS else LEVEL_WORDS
    return words[result.match]


def score_badge(result: SearchResult, scale: ScoreScale) -> str:
    """What a result card shows: "Strong 3.4", "Weak 2.6", "Similar 93", "Near-identical 99.7", "Identical"."""
    if result.match is MatchLevel.IDENTICAL:
        return "Identical"
    return f"{level_word(result, scale)} {score_number(result.score, scale)}"


def modality_text(result: SearchResult) -> str:
    """"Gel / blot (83%)", "Unclassified (no modality reaches 80%)", or "" when the figure was never classified."""
    if result.modality:
        confidence = result.modality_confidence
        return result.modality + (f" ({percent(confidence)})" if confidence is not None else "")
    if result.modality_confidence is not None:
        from engine.modality import MIN_CONFIDENCE  # numpy: loaded by then (results exist), not at window start

        return f"Unclassified (no modality reaches {percent(MIN_CONFIDENCE)})"
    return ""


def unknown_words_text(verdict: Verdict | None) -> str:
    if verdict is None or not verdict.unknown_words:
        return ""
    return "Not known to this model: " + ", ".join(verdict.unknown_words)


def why_text(result: SearchResult, scale: ScoreScale) -> str:
    """One line on how the score came about, with the raw similarity."""
    why = result.why
    parts = [f"{SCALE_NAMES[scale]} {score_number(result.score, scale)}"]
    if why.background is not None:
        parts.append(f"similarity {why.similarity:.3f} vs background {why.background:.3f}")
    else:
        parts.append(f"similarity {why.similarity:.3f}")
    if why.keyword_bonus:
        parts.append(f"caption words {', '.join(why.matched_terms)} +{score_number(why.keyword_bonus, scale)}")
    return " · ".join(parts)
