"""Writing the grounded generator's feedback from a :class:`Judgement`.

Every sentence comes from this solution (quoted evidence), the rubric (covered
and missed checklist points) or the organization's feedback on similar
solutions. A reused sentence must *fit* this solution: whatever it names
specifically (quotes, numbers, proper nouns, words of the other solution) must
appear here or in the rubric, and it never names another learner. Everything
written passes the PII redactor, and instruction-like learner sentences are
never quoted (the judgement already ignores them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from huddle_ai.assessment import PointScore, checklist, content_words
from huddle_ai.context import ContextItem, FeedbackContext
from huddle_ai.privacy import Redactor
from huddle_ai.records import Level
from huddle_ai.suggestion import CriterionAssessment, Suggestion, SuggestionBody

if TYPE_CHECKING:
    from huddle_ai.generators.grounded import CriterionJudgement, Judgement

__all__ = ["Fit", "adapt_feedback", "compose"]

COVERED = 0.6
PARTLY = 0.42
_GAP = frozenset(
    w
    for line in (
        "miss missing misses missed not n't no lack lacks lacking should could consider add",
        "incorrect wrong but however instead try needs need only partially incomplete",
        "unclear forgot forgets omit omits omitted",
    )
    for w in line.split()
)
_PRAISE = frozenset(
    [
        "correct",
        "correctly",
        "good",
        "great",
        "well",
        "nice",
        "clear",
        "clearly",
        "right",
        "excellent",
        "strong",
    ]
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear)\b[^,.!]{0,30}[,.!]\s*", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<![Ee]\.g\.)(?<![Ii]\.e\.)(?<=[.!?])\s+(?=[A-Z'\"\u2018\u201c(])")
# a sentence opening with these leans on the one before it: it cannot stand alone
_DEPENDENT = re.compile(
    r"^(?:then|and|but|so|also|that|this|it|they|these|those|otherwise)\b", re.I
)
_TOKEN = re.compile(r"[a-z']+")
_QUOTED = re.compile(
    r"'([^']{3,})'|\"([^\"]{3,})\"|\u2018([^\u2019]{3,})\u2019|\u201c([^\u201d]{3,})\u201d"
)
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_CAPITAL = re.compile(r"(?<=\s)[A-Z][a-z]+(?:[A-Z][a-z]+)*")


def _short(text: str, words: int = 14) -> str:
    parts = text.strip().rstrip(".").split()
    out = " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
    return out[:1].lower() + out[1:] if out[:2] != out[:2].upper() else out


def _quote(text: str | None, words: int = 18) -> str:
    return f"\u201c{_short(text or '', words)}\u201d"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "." if text else ""


def _join(items: list[str], sep: str = ", ") -> str:
    if len(items) <= 1:
        return "".join(items)
    return sep.join(items[:-1]) + " and " + items[-1]


class Fit:
    """Whether a sentence written for another solution also holds for this one."""

    def __init__(self, solution: str, rubric: str, history: list[str], names: list[str]) -> None:
        self.haystack = f"{solution}\n{rubric}".lower()
        self.known = content_words(solution) | content_words(rubric)
        docs = [content_words(h) for h in history]
        counts: dict[str, int] = {}
        for d in docs:
            for w in d:
                counts[w] = counts.get(w, 0) + 1
        # words most solutions of the huddle use are generic, not another solution's content
        self.common = {w for w, n in counts.items() if n >= max(2, 0.25 * len(docs))}
        self.name_parts = {w.lower() for n in names for w in re.findall(r"\w+", n) if len(w) >= 3}

    def __call__(self, sentence: str, parent: str = "") -> bool:
        low = sentence.lower()
        if set(re.findall(r"\w+", low)) & self.name_parts:
            return False  # never carry another learner's name over
        for m in _QUOTED.finditer(sentence):
            quoted = next(g for g in m.groups() if g)
            if quoted.lower().strip(" .") not in self.haystack:
                return False
        if any(
            not re.search(rf"(?<![\w:.,/]){re.escape(n)}(?![\w:/])", self.haystack)
            for n in _NUMBER.findall(sentence)
        ):
            return False
        for cap in _CAPITAL.findall(sentence):
            if cap.lower() not in self.haystack and cap.lower() not in _COMMON_CAPS:
                return False  # a proper noun of another solution
        words = content_words(sentence)
        specific = content_words(parent) - self.known - self.common
        unknown = words - self.known - self.common - _ADVICE
        # about the other solution, or about things this one never touches
        return not (words & specific) and len(unknown) <= 4


_ADVICE = content_words(
    "add next time ask try step clear clearly really good great work well example specific "
    "concrete question answer explain show make sure strong nice keep start first point "
    "learn idea thing way part detail stretch week name"
)
_COMMON_CAPS = frozenset(
    ["i", "next", "one", "two", "this", "that", "your", "you", "the", "a", "an", "it"]
)


def _balanced(sent: str) -> bool:
    return sent.count("(") == sent.count(")") and sent.count("\u201c") == sent.count("\u201d")


def adapt_feedback(
    text: str, solution_words: set[str], rubric_words: set[str], assessment: Level
) -> list[str]:
    """Sentences of past feedback (on a solution judged the same way) that still hold here."""
    kept: list[str] = []
    for sent in _SENTENCE.split(_GREETING.sub("", text.strip())):
        sent = sent.strip()
        if len(sent.split()) < 3 or _DEPENDENT.match(sent) or not _balanced(sent):
            continue  # bare verdicts ("Correct.") are replaced by this solution's own
        tokens = set(_TOKEN.findall(sent.lower()))
        words = content_words(sent)
        terms = words & rubric_words
        related = bool(words & solution_words)
        if tokens & _GAP:
            # a gap it names must still be open here; a generic remark must touch this text
            if (terms - solution_words) or (not terms and related and assessment != Level.MET):
                kept.append(sent)
        elif tokens & _PRAISE:
            shared = len(terms & solution_words) / len(terms) if terms else float(related)
            if assessment != Level.NOT_MET and shared >= 0.5:
                kept.append(sent)
        elif related:
            kept.append(sent)
    return kept


def _label(item: ContextItem) -> object:
    return item.meta.get("assessment") or item.meta.get("parent_assessment")


def _reuse(
    context: FeedbackContext, judgement: Judgement, fit: Fit, solution_words: set[str]
) -> tuple[list[str], list[str], list[str]]:
    """Adapted sentences and questions from the best-matching feedback, and what to cite."""
    rubric_words = content_words(
        " ".join(
            [context.huddle.goal]
            + [c.description + " " + (c.exemplar or "") for c in context.huddle.rubric]
        )
    )
    predicted = judgement.assessment.value
    candidates = sorted(
        (i for i in context.items if i.kind == "feedback" and i.meta.get("same_huddle")),
        key=lambda i: (-i.value, i.id),
    )
    sentences: list[str] = []
    questions: list[str] = []
    cited: list[str] = []
    for item in candidates:
        if _label(item) != predicted:
            continue  # feedback on a solution judged differently would mislead
        got = adapt_feedback(item.text, solution_words, rubric_words, judgement.assessment)
        parent = _parent_text(context, item)
        got = [s for s in got if fit(s, parent) and s not in sentences]
        asks = [s for s in got if s.endswith("?")]
        got = [s for s in got if not s.endswith("?")][: 2 - len(sentences)]
        used = bool(got) or bool(asks and len(questions) < 2)
        sentences += got
        questions += [q for q in asks if q not in questions][: 2 - len(questions)]
        if used:
            cited.append(item.id)
            parent_id = item.meta.get("solution_id")
            if isinstance(parent_id, str):
                cited.append(f"solution:{parent_id}")
        if len(sentences) >= 2:
            break
    return sentences, questions, cited


def _parent_text(context: FeedbackContext, item: ContextItem) -> str:
    parent = item.meta.get("solution_id")
    for i in context.items:
        if i.kind == "solution" and i.record_id == parent:
            return i.text
    return next((h.text for h in context.history if h.id == parent), "")


def _gaps(judgement: Judgement) -> list[tuple[CriterionJudgement, PointScore]]:
    """Checklist points not (fully) covered, worst criteria and weakest points first."""
    out = []
    for cj in judgement.criteria:
        # a met criterion has no gaps; a partial one its weakest points; a missed one all
        keep = {Level.MET: 0, Level.PARTIAL: 2, Level.NOT_MET: 3}[cj.level]
        weak = sorted((p for p in cj.points if p.score < COVERED), key=lambda p: p.score)
        out += [(cj, p) for p in weak[:keep]]
    return sorted(out, key=lambda x: (x[0].level.score, x[1].score, x[1].point))


def _missing_by_criterion(
    gaps: list[tuple[CriterionJudgement, PointScore]],
) -> list[tuple[CriterionJudgement, list[str]]]:
    out: dict[str, tuple[CriterionJudgement, list[str]]] = {}
    for cj, p in gaps:
        out.setdefault(cj.criterion.id, (cj, []))[1].append(p.point)
    return list(out.values())


def compose(context: FeedbackContext, judgement: Judgement) -> SuggestionBody:
    from huddle_ai.privacy import without_instructions

    huddle = context.huddle
    solution = without_instructions(context.solution_text)
    words = content_words(solution)
    redactor = Redactor(names=context.other_names, keep=context.learner_name)

    def clean(text: str) -> str:
        return redactor.redact(text)[0]

    explicit = {c.id: checklist(c.exemplar or c.description).explicit for c in huddle.rubric}
    covered = sorted(
        (
            (cj, p)
            for cj in judgement.criteria
            for p in cj.points
            if p.score >= COVERED
            or (cj.level == Level.MET and p is max(cj.points, key=lambda q: q.score))
        ),
        key=lambda x: (-x[0].level.score, -x[1].score),
    )
    gaps = _gaps(judgement)
    missing = _missing_by_criterion(gaps)
    rubric_text = " ".join(
        [huddle.goal] + [f"{c.name} {c.description} {c.exemplar or ''}" for c in huddle.rubric]
    )
    fit = Fit(solution, rubric_text, [h.text for h in context.history], context.other_names)
    reused, asked, reuse_cited = _reuse(context, judgement, fit, words)

    def need(cj: CriterionJudgement, points: list[str]) -> str:
        """One grammatical sentence naming what is still missing."""
        if explicit[cj.criterion.id]:
            return f"Still missing for {cj.criterion.name}: {'; '.join(points[:3])}."
        return f"You do not mention that {_short(points[0], 40)}."

    # -- text: verdict and the single most important gap, then reused feedback
    reference_mode = not any(explicit.values())
    if reference_mode:
        verdict = {
            Level.MET: "Correct.",
            Level.PARTIAL: "Partially correct:",
            Level.NOT_MET: "Incorrect.",
        }[judgement.assessment]
    else:
        verdict = {
            Level.MET: "This meets the rubric.",
            Level.PARTIAL: "Partly there.",
            Level.NOT_MET: "Not there yet.",
        }[judgement.assessment]
    lines = [verdict]
    if missing and judgement.assessment != Level.MET:
        cj, points = missing[0]
        if reference_mode and judgement.assessment == Level.NOT_MET:
            lines.append(_sentence(points[0]))  # what the answer should have said
        else:
            lines.append(need(cj, points))
    if lines[0].endswith(":"):
        if len(lines) > 1:
            lines[:2] = [f"{lines[0]} {lines[1][:1].lower()}{lines[1][1:]}"]
        else:
            lines[0] = lines[0][:-1] + "."
    if not reference_mode and covered and judgement.assessment != Level.NOT_MET:
        # teachers name what works, in the learner's own words
        seen: set[str] = set()
        praise: list[str] = []
        for cj, p in covered:
            if p.evidence and cj.criterion.id not in seen and len(praise) < 2:
                seen.add(cj.criterion.id)
                praise.append(f"{_quote(p.evidence, 16)} shows {_short(p.point, 10)}.")
        lines[1:1] = praise
    if not reference_mode and judgement.assessment == Level.MET:
        weakest = min(
            ((cj, p) for cj in judgement.criteria for p in cj.points),
            key=lambda x: x[1].score,
            default=None,
        )
        if weakest is not None:
            lines.append(
                f"One stretch for {weakest[0].criterion.name.lower()}: {_short(weakest[1].point)}."
            )
    lines += reused

    # -- strengths: quoted evidence of covered points
    strengths = [
        f"{cj.criterion.name}: you show {_short(p.point, 12)} with {_quote(p.evidence)}."
        if explicit[cj.criterion.id]
        else f"You state that {_short(p.point, 16)}: {_quote(p.evidence)}."
        for cj, p in covered[:3]
        if p.evidence
    ]
    if not strengths and judgement.assessment != Level.NOT_MET:
        best = max(
            ((cj, p) for cj in judgement.criteria for p in cj.points),
            key=lambda x: x[1].score,
            default=None,
        )
        if best is not None and best[1].evidence and best[1].score >= PARTLY:
            strengths.append(f"A good start: {_quote(best[1].evidence)}.")

    # -- suggestions: one per criterion with gaps
    suggestions: list[Suggestion] = []
    for cj, points in missing[:3]:
        implied = [p for c, p in gaps if c is cj and p.score >= PARTLY and p.evidence]
        if implied and cj.level != Level.NOT_MET and explicit[cj.criterion.id]:
            p = implied[0]
            text = (
                f"In {cj.criterion.name}, make {_short(p.point, 10)} explicit; "
                f"now it is only implied by {_quote(p.evidence, 10)}."
            )
        elif explicit[cj.criterion.id]:
            text = need(cj, points)
        else:
            text = "State that " + " and that ".join(_short(p, 30) for p in points[:3]) + "."
        suggestions.append(Suggestion(text=text, criterion_id=cj.criterion.id))
    if not suggestions and covered:
        cj, p = covered[0]
        suggestions.append(
            Suggestion(
                text=f"Add a concrete example that shows {_short(p.point)} in practice.",
                criterion_id=cj.criterion.id,
            )
        )

    # -- questions: reused generic questions, else one per missed criterion
    questions = list(asked)
    for cj, points in missing:
        if len(questions) >= 2:
            break
        if explicit[cj.criterion.id]:
            questions.append(
                f"How could you show {_short(points[0], 10)} in your {cj.criterion.name.lower()}?"
            )
        else:
            questions.append(f"How would you explain that {_short(points[0], 30)}?")
    if not questions:
        questions.append(
            f"How would your answer change for a different case than the one in {huddle.title}?"
        )

    if missing:
        cj, points = missing[0]
        target = (
            f"your {cj.criterion.name.lower()} so that it covers {_short(points[0], 12)}"
            if explicit[cj.criterion.id]
            else f"your answer so that it states that {_short(points[0], 30)}"
        )
        next_step = f"This week, revise {target}, then check it against the rubric."
    else:
        anchor = _short(covered[0][1].point) if covered else _short(huddle.goal)
        next_step = (
            f"This week, explain to a peer in \u201c{huddle.title}\u201d how you handled "
            f"{anchor}, and ask them for one case where your answer would not hold."
        )

    rubric = [
        CriterionAssessment(
            criterion_id=cj.criterion.id, level=cj.level, evidence=clean(_evidence(cj))
        )
        for cj in judgement.criteria
    ]
    present = context.item_ids()
    cited = ["goal"] + [f"criterion:{cj.criterion.id}" for cj in judgement.criteria] + reuse_cited
    citations = [c for i, c in enumerate(cited) if c in present and c not in cited[:i]]
    return SuggestionBody(
        text=clean(" ".join(lines)),
        strengths=[clean(s) for s in strengths],
        suggestions=[
            Suggestion(text=clean(s.text), criterion_id=s.criterion_id) for s in suggestions
        ],
        questions=[clean(q) for q in questions],
        next_step=clean(next_step),
        rubric=rubric,
        assessment=judgement.assessment,
        citations=citations,
    )


def _evidence(cj: CriterionJudgement) -> str:
    best_point = max(cj.points, key=lambda p: p.score, default=None)
    covered = [
        p for p in cj.points if p.score >= COVERED or (cj.level == Level.MET and p is best_point)
    ]
    keep = {Level.MET: 0, Level.PARTIAL: 2, Level.NOT_MET: 3}[cj.level]
    missing = sorted((p for p in cj.points if p.score < COVERED), key=lambda p: p.score)[:keep]
    parts = []
    if covered:
        best = max(covered, key=lambda p: p.score)
        parts.append(f"{_quote(best.evidence)} covers {_short(best.point)}")
    elif cj.points:
        best = max(cj.points, key=lambda p: p.score)
        parts.append(f"closest passage: {_quote(best.evidence)}")
    if missing:
        parts.append("missing: " + "; ".join(_short(p.point, 10) for p in missing[:3]))
    return "; ".join(parts) or "no key points to compare"
