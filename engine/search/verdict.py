"""From scores to words: each result's match level, and the verdict on a whole query ("strong", "weak", "none").

The thresholds are stated here and in the README ("What the numbers mean"); `python -m bench.relevance` measures
how well the "none" verdict separates nonsense from real queries with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.types import MatchLevel, ScoreScale, Verdict


@dataclass(frozen=True)
class Scale:
    """One score scale with its thresholds and the weight keyword evidence gets on it."""

    kind: ScoreScale
    strong: float  # a result scoring at least this is a strong match
    weak: float  # at least this: weak; below: no better than the background
    keyword_gate: float  # caption keywords may lift a figure only when its vector score reaches this
    keyword_weight: float  # what a caption holding all the query's words (rarity-weighted) adds at most
    near_identical: float | None = None  # image scale: at least this is "near-identical"

    def level(self, score: float, *, identical: bool = False) -> MatchLevel:
        if identical:
            return MatchLevel.IDENTICAL
        if self.near_identical is not None and score >= self.near_identical:
            return MatchLevel.NEAR_IDENTICAL
        if score >= self.strong:
            return MatchLevel.STRONG
        return MatchLevel.WEAK if score >= self.weak else MatchLevel.NONE


# Text: background spreads above meaningless text (see engine.search.background). Keyword evidence may lift only a
# figure whose similarity is above the background level — at least one spread above what meaningless text reaches on
# it (within one spread it is indistinguishable from noise) — by up to 2 spreads for a caption holding every query
# word. On the demo library (bench.relevance) the vectors alone give nonsense a best strength of 0.7–2.8 and labelled
# queries 1.2–6.1 with keywords. The weights and thresholds were chosen on that small labelled set: read its figures
# as a check, not as held-out proof.
TEXT_SCALE = Scale(ScoreScale.STRENGTH, strong=3.0, weak=2.5, keyword_gate=1.0, keyword_weight=2.0)
# Image: 0 = the library's average figure for this query image, 100 = identical. Words typed beside an image steer
# the query vector but add no caption bonus, so 100 keeps meaning "identical".
IMAGE_SCALE = Scale(ScoreScale.CLOSENESS, strong=90.0, weak=75.0, keyword_gate=100.0, keyword_weight=0.0,
                    near_identical=99.5)

CLOSEST_WHEN_NONE = 3  # results shown ("closest, but weak") when nothing stands out


def _is_match(level: MatchLevel) -> bool:
    return level is not MatchLevel.NONE


def query_level(scale: Scale, best: float | None) -> MatchLevel:
    """The verdict's level from the best score: identical and near-identical matches count as strong."""
    if best is None:
        return MatchLevel.NONE
    level = scale.level(best)
    return MatchLevel.STRONG if level in (MatchLevel.IDENTICAL, MatchLevel.NEAR_IDENTICAL) else level


@dataclass(frozen=True)
class QueryFacts:
    """What the verdict's sentence may mention about the query itself."""

    text: str = ""
    unknown_words: tuple[str, ...] = ()  # unreadable by the model and in no caption: named to the user
    unreadable_words: tuple[str, ...] = ()  # every meaningful word the model cannot read
    ignored_words: tuple[str, ...] = ()
    readable: bool = True  # False: no meaningful word the model can read (the vectors are not asked)
    image: bool = False
    phrases: tuple[str, ...] = ()  # quoted phrases: every result's caption contains them


def verdict(scale: Scale, best: float | None, shown: int, facts: QueryFacts) -> Verdict:
    """The verdict for a query whose best candidate scored `best`, with `shown` results on the page."""
    level = query_level(scale, best) if facts.readable else MatchLevel.NONE
    if facts.phrases and shown and level is MatchLevel.NONE:
        level = MatchLevel.WEAK  # the captions hold what the user quoted, even where the images match weakly
    return Verdict(
        level=level,
        scale=scale.kind,
        best_score=best,
        message=_message(level, shown, facts),
        unknown_words=facts.unknown_words,
        ignored_words=facts.ignored_words,
    )


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= 60 else text[:57] + '…'}”"


def _message(level: MatchLevel, shown: int, facts: QueryFacts) -> str:
    subject = _quoted(facts.text) if facts.text.strip() else "the query"
    if facts.image:
        subject = f"this image with {subject}" if facts.text.strip() else "this image"
    if level is MatchLevel.STRONG:
        return f"Strong matches for {subject}."
    if level is MatchLevel.WEAK and facts.phrases:
        quoted = ", ".join(_quoted(p) for p in facts.phrases)
        return f"{shown} caption(s) contain {quoted}; the images themselves match only weakly."
    if level is MatchLevel.WEAK:
        return f"Only weak matches for {subject}: nothing stands out clearly from the background."
    if not facts.text.strip() and not facts.image:
        return "The query is empty: type some words or drop an image."
    if not facts.readable and facts.unreadable_words:
        reason = f"this model does not know {', '.join(facts.unreadable_words)}"
    elif not facts.readable:
        reason = "it has only common words, numbers or single letters"
    else:
        reason = "nothing stands out from the background"
    closest = f"; the {shown} closest are shown, but they are weak" if shown else ""
    return f"No clear match for {subject}: {reason}{closest}."
