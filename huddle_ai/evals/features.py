"""Features of a feedback text for the learned scorers.

Two blocks, computed for a batch of :class:`FeedbackItem` at once:

- *linguistic*: counts a reader would notice -- questions and whom they
  address, imperatives, modal suggestions, second person, hedges, praise and
  verdict words, harsh or patronising phrases, length, code, and the overlap
  of the feedback with the learner's work, the task, the rubric and the
  reference answer (shared words, quoted runs, numbers);
- *verdict against evidence* (for ``accurate``): how far the feedback
  approves or criticises, crossed with evidence of the work's quality against
  the reference (shared words and numbers, the work-reference cosine), and
  whether a reference exists at all; what the feedback asks to add that the
  work already has; numbers in the feedback that neither the work nor the
  reference holds, or that hold a reference number with the other sign;
  the share of the feedback's new words that the reference holds; and
  whether it states a calculation that does not hold (or one that does:
  :mod:`huddle_ai.evals.arithmetic`);
- *embedding*: cosines between the feedback, the work, the task and the
  reference under the packaged MiniLM model, and the feedback's own vector.

:data:`FEATURE_VERSION` names this set; fitted weights record it, and weights
for another version are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from huddle_ai.evals import arithmetic
from huddle_ai.evals.labelled import FeedbackItem
from huddle_ai.evals.text import content_words, longest_shared_run, sentences, words
from huddle_ai.index.embeddings import Embedder

__all__ = [
    "EVIDENCE",
    "FEATURE_VERSION",
    "LINGUISTIC",
    "Features",
    "featurize",
    "linguistic",
    "unused_by",
]

FEATURE_VERSION = "f3"

_VERBS_TEXT = """add adjust aim analyse analyze apply ask attach avoid begin break bring build
    calculate
    call change check choose clarify collect combine compare compute confirm connect consider
    convert count create cut decide define delete describe divide do document double draft drop
    email estimate explain explore extend factor find finish fix focus follow give go group have
    highlight identify imagine include isolate keep label let link list look make map mark measure
    mention merge move multiply name note notice open outline pick plan plot practise practice
    prepare present print prioritise prioritize put quantify read recheck record reduce refactor
    remember remove rename reorder rephrase replace rerun restate rethink return review revise
    rewrite run say schedule see send set share shorten show simplify sketch skip solve split start
    state stop subtract substitute swap take talk tell test think tidy time track trim try turn
    type use verify walk watch write"""
_VERBS = frozenset(_VERBS_TEXT.split())
_BULLET = re.compile(r"^[\s\-*•·>\d.)\]]+")
_QWORD_TEXT = """what how why which where when who can could would will do does did is are was
    were have has should shall may might"""
_QWORD = frozenset(_QWORD_TEXT.split())
_YOU_TEXT = "you your you're yours yourself you've you'll you'd u ur"
_YOU = frozenset(_YOU_TEXT.split())
_ME_TEXT = "i i'm i'd i've i'll me my mine"
_ME = frozenset(_ME_TEXT.split())
_MODAL = re.compile(
    r"\b(you|u)\s+(could|should|might|may want|need to|can|will need|have to|must|want to|'ll)\b"
    r"|\b(try|consider|suggest|recommend|i'd|i would|how about|what if|make sure|next|instead|"
    r"worth|perhaps|maybe)\b",
    re.I,
)
_HEDGE = re.compile(
    r"\b(maybe|perhaps|might|possibly|probably|seems?|i think|i feel|kind of|sort of|a bit|"
    r"a little|slightly|not sure)\b",
    re.I,
)
_PRAISE = re.compile(
    r"\b(great|good|nice|excellent|well done|brilliant|love|loved|strong|clear|lovely|"
    r"fantastic|awesome|perfect|impressive|solid|smart|neat|spot on|nailed|bravo|wonderful|"
    r"thoughtful|helpful|effective|works|clever)\b",
    re.I,
)
_RIGHT = re.compile(r"\b(correct|right|exactly|yes|accurate|true|valid|that's it)\b", re.I)
_WRONG = re.compile(
    r"\b(wrong|incorrect|not quite|not right|mistake|error|errors|missing|miss|misses|doesn'?t|"
    r"isn'?t|fails?|bug|off by|not true|false|careful|check again|confused|mix(?:ed)? up|"
    r"however|but|although|unfortunately)\b",
    re.I,
)
_HARSH = re.compile(
    r"\b(lazy|stupid|dumb|idiot\w*|sloppy|pathetic|ridiculous|embarrassing|terrible|awful|"
    r"useless|careless|nonsense|rubbish|garbage|worthless|waste|joke|clueless|hopeless|"
    r"seriously|obviously|honestly|even a child|any child|basic|simple|duh|ugh|sigh|lol|"
    r"again\?|how many times|as i said|i already|did you even|did you actually|do you even|"
    r"not hard|no idea|sweetie|buddy|kiddo|bless|shame|disappointing|mediocre|lame|meh)\b",
    re.I,
)
_SNIDE = re.compile(
    r"\b(finally|for once|at least|surely|apparently|i guess|wow|congrat\w*|genius|shocking|"
    r"who(?:ever)? taught you|some of us|like i said|as usual|as always|like always|yet again|"
    r"third time|took you|i'?ve told you|told you|we'?ve been over|whatever happened|"
    r"i'?ll be honest|to be honest|frankly|no offen[cs]e|everyone knows|everybody knows|"
    r"come on|really\?|seriously\?|you should know|you ought to know|by now|amateur\w*|"
    r"sorry,? but|kidding|clearly you|you clearly|you obviously|obviously you|even you|"
    r"let me spell|spell it out|in plain english|try harder|sweetheart|dear|poor)\b"
    r"|\.\.\.|\?!|!\?",
    re.I,
)
_ABSOLUTE = re.compile(
    r"\b(always|never|must|nobody|no one|everyone|every single|all the time|any|only|proper|"
    r"the rule|rule is|standard practice|best practice|by definition)\b",
    re.I,
)
_GENERIC = re.compile(
    r"\b(great job|good job|nice work|well done|good work|keep it up|keep up|looks good|"
    r"good effort|needs? (?:more )?work|needs? improvement|improve (?:this|it)|be more|"
    r"work on (?:this|it)|not bad|fine|ok(?:ay)?)\b",
    re.I,
)
_POLITE = re.compile(
    r"\b(thanks|thank you|please|well done|nice|great|good point|i like|i liked|i love|"
    r"you'?re (?:close|nearly|almost|on the right)|nearly there|almost there|no worries|"
    r"no problem|happy to|glad|appreciate)\b|[🙂😊👍🎉👏]",
    re.I,
)
_ANSWER = re.compile(
    r"\b(the answer is|answer:|should be|the correct|correct answer|here'?s (?:the|a|my|how)|"
    r"it'?s actually|the solution is|is equal to|equals|you get|becomes|rewrite(?:d)? (?:it|this)|"
    r"like this|as follows|change it to|replace (?:it|this|that) with|final answer)\b",
    re.I,
)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
# a number with its sign: a minus that stands alone ("x = -4", "−4"), not a range's dash
_SIGNED = re.compile(r"(?<![\w.,\-−])[-−]?\d+(?:[.,]\d+)?")
_QUOTED = re.compile(r"[\"“'‘`]([^\"”'’`\n]{3,80})[\"”'’`]")
_CODE_LINE = re.compile(r"^\s{2,}\S|[;{}]\s*$|\bdef |\breturn\b|==|\+=|\w+\(.*\)\s*$", re.M)
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")

LINGUISTIC = (
    "log_words",
    "sentences",
    "questions",
    "question_share",
    "you_questions",
    "wh_questions",
    "imperatives",
    "imperative_share",
    "modal_suggestions",
    "you_density",
    "me_density",
    "hedges",
    "praise",
    "right_verdict",
    "wrong_verdict",
    "harsh",
    "exclamations",
    "caps_words",
    "emoji",
    "generic",
    "bare",
    "answer_phrases",
    "code_lines",
    "equals",
    "work_overlap",
    "work_own_terms",
    "work_run",
    "work_numbers",
    "quotes_work",
    "task_overlap",
    "rubric_overlap",
    "ref_overlap",
    "ref_run",
    "ref_numbers_new",
    "ref_covered",
    "work_ref_overlap",
    "work_ref_numbers",
    "praise_x_workref",
    "wrong_x_workref",
    "verdict_x_workref",
    "snide",
    "absolutes",
    "new_numbers",
    "polite",
    "opening_verdict",
    "ref_number_share",
    "missing_but_present",
    # verdict against evidence
    "approve",
    "criticise",
    "polarity",
    "has_ref",
    "approve_x_ref",
    "criticise_x_ref",
    "approve_x_workref",
    "criticise_x_workref",
    "polarity_x_refnums",
    "work_is_ref",
    "criticise_x_work_is_ref",
    "asks_present",
    "asks_present_terms",
    "numbers_off_ref",
    "sign_flips",
    "new_words_in_ref",
    "work_log_words",
    "work_rubric_cover",
    "approve_x_rubric_cover",
    "criticise_x_rubric_cover",
    "asks_rubric_present",
    "arithmetic_false",
    "arithmetic_true",
)
_EMBEDDED = ("cos_work", "cos_task", "cos_ref", "cos_work_ref", "cos_rubric")
# verdict crossed with the work-reference cosine (zero without a reference)
_EMBEDDED_X = ("approve_x_cos_work_ref", "criticise_x_cos_work_ref", "polarity_x_cos_work_ref")
#: the named features that weigh the feedback's verdict against the work's evidence
EVIDENCE = (*LINGUISTIC[LINGUISTIC.index("approve") :], *_EMBEDDED_X)


def _share(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def linguistic(item: FeedbackItem) -> list[float]:
    """The linguistic block for one item, in the order of :data:`LINGUISTIC`."""
    fb = item.feedback
    ws = words(fb)
    n = max(len(ws), 1)
    sents = sentences(fb) or [fb]
    questions = [s for s in sents if s.rstrip().endswith("?")]
    first = [words(_BULLET.sub("", s))[:1] for s in sents]
    imperatives = sum(1 for f in first if f and f[0] in _VERBS)
    you_q = sum(1 for q in questions if set(words(q)) & _YOU)
    wh_q = sum(
        1 for q, f in zip(sents, first, strict=True) if f and f[0] in _QWORD and q in questions
    )
    own = content_words(fb)
    work = content_words(item.work)
    context = content_words(" ".join([item.task, *item.rubric]))
    ref = content_words(item.reference or "")
    fb_nums, work_nums = _numbers(fb), _numbers(item.work)
    ref_nums = _numbers(item.reference or "")
    quoted = [q for q in _QUOTED.findall(fb) if q.lower() in item.work.lower()]
    work_ref = _share(ref, work) if ref else 0.5
    praise = len(_PRAISE.findall(fb))
    rights = len(_RIGHT.findall(fb))
    wrong = len(_WRONG.findall(fb))
    values = [
        math.log1p(len(ws)),
        float(len(sents)),
        float(len(questions)),
        len(questions) / len(sents),
        float(you_q),
        float(wh_q),
        float(imperatives),
        imperatives / len(sents),
        float(len(_MODAL.findall(fb))),
        sum(1 for w in ws if w in _YOU) / n,
        sum(1 for w in ws if w in _ME) / n,
        float(len(_HEDGE.findall(fb))),
        float(praise),
        float(rights),
        float(wrong),
        float(len(_HARSH.findall(fb))),
        float(fb.count("!")),
        float(sum(1 for w in re.findall(r"\b[A-Z]{3,}\b", fb))),
        float(len(_EMOJI.findall(fb))),
        float(len(_GENERIC.findall(fb))),
        float(len(ws) <= 3),
        float(len(_ANSWER.findall(fb))),
        float(len(_CODE_LINE.findall(fb))),
        float(fb.count("=")),
        _share(own, work),
        math.log1p(len((own & work) - context)),
        math.log1p(longest_shared_run(fb, item.work)) if item.work else 0.0,
        math.log1p(len(fb_nums & work_nums)),
        float(len(quoted)),
        _share(own, context),
        _share(own, content_words(" ".join(item.rubric))),
        _share(own, ref),
        math.log1p(longest_shared_run(fb, item.reference)) if item.reference else 0.0,
        math.log1p(len((fb_nums & ref_nums) - work_nums)),
        _share(ref, own) if ref else 0.0,
        work_ref,
        _share(ref_nums, work_nums) if ref_nums else 0.5,
        min(praise, 3) * work_ref,
        min(wrong, 3) * work_ref,
        (min(praise + rights, 3) - min(wrong, 3)) * (2 * work_ref - 1),
        float(len(_SNIDE.findall(fb))),
        float(len(_ABSOLUTE.findall(fb))),
        math.log1p(len(fb_nums - work_nums - ref_nums - _numbers(item.task))),
        float(len(_POLITE.findall(fb))),
        _opening_verdict(sents[0]),
        len(fb_nums & ref_nums) / len(fb_nums) if fb_nums and ref_nums else 0.0,
        _missing_but_present(sents, work),
        *_evidence(item, sents, own, work, context, ref, praise + rights, wrong),
    ]
    return values


_ASKS = re.compile(
    r"\b(add|adding|include|including|mention|missing|miss(?:es)?|needs?|there'?s no|there is no|"
    r"doesn'?t (?:have|say|mention|include|give|show)|lacks?|without|forgot|forgotten|"
    r"(?:don'?t|can'?t|cannot) see|no mention|what about|should (?:have|say|include|state)|"
    r"you didn'?t|never (?:say|mention))\b",
    re.I,
)


def _polarity(approve: float, criticise: float) -> float:
    return (approve - criticise) / (approve + criticise + 1.0)


def _evidence(
    item: FeedbackItem,
    sents: Sequence[str],
    own: set[str],
    work: set[str],
    context: set[str],
    ref: set[str],
    approving: int,
    wrong: int,
) -> list[float]:
    """The verdict-against-evidence block, in the order of :data:`LINGUISTIC`."""
    fb = item.feedback
    opening = _opening_verdict(sents[0])
    asks, asked_terms = _asks_present(sents, work, context)
    approve = min(approving, 3) + float(opening > 0)
    criticise = min(wrong, 3) + float(opening < 0) + min(asks, 3)
    reference = (item.reference or "").strip()
    has_ref = float(bool(reference))
    work_ref = _share(ref, work) if ref else 0.0
    fb_nums, work_nums = _numbers(fb), _numbers(item.work)
    ref_nums = _numbers(item.reference or "")
    task_nums = _numbers(item.task)
    refnums = 2 * _share(ref_nums, work_nums) - 1 if ref_nums else 0.0
    # the work is the reference answer ("B" for "B"), or holds every word of it
    is_ref = float(bool(reference) and _normal(item.work) == _normal(reference))
    is_ref = max(is_ref, float(bool(ref) and ref <= work))
    off = fb_nums - work_nums - task_nums - ref_nums if ref_nums else set()
    ref_signed = _signed(item.reference or "")
    fb_signed = _signed(fb)
    flips = {n for n in fb_signed - ref_signed if _negated(n) in ref_signed}
    new = own - work - context
    rubric = content_words(" ".join(item.rubric))
    cover = _share(rubric, work) if rubric else 0.0
    claims = arithmetic.check(fb)
    return [
        approve,
        criticise,
        _polarity(approve, criticise),
        has_ref,
        approve * has_ref,
        criticise * has_ref,
        approve * work_ref,
        criticise * work_ref,
        _polarity(approve, criticise) * refnums,
        is_ref,
        criticise * is_ref,
        float(min(asks, 3)),
        math.log1p(asked_terms),
        math.log1p(len(off)),
        float(len(flips)),
        _share(new, ref) if ref and new else 0.0,
        math.log1p(len(words(item.work))),
        cover,
        approve * cover,
        criticise * cover,
        _asks_rubric_present(sents, work, rubric),
        float(claims.false > 0),
        float(claims.true > 0),
    ]


def _asks_rubric_present(sents: Sequence[str], work: set[str], rubric: set[str]) -> float:
    """The most a clause asking to add something names rubric terms the work already has."""
    best = 0.0
    for s in sents:
        m = _ASKS.search(s)
        asked = content_words(s[m.end() :]) & rubric if m else set()
        if asked:
            best = max(best, _share(asked, work))
    return best


def _normal(text: str) -> str:
    return " ".join(words(text))


def _signed(text: str) -> set[str]:
    return {n.replace("−", "-").replace(",", ".") for n in _SIGNED.findall(text)}


def _negated(number: str) -> str:
    return number[1:] if number.startswith("-") else f"-{number}"


def _asks_present(sents: Sequence[str], work: set[str], context: set[str]) -> tuple[int, int]:
    """How many clauses ask to add something the work already names, and how many terms.

    A clause is the text from an asking cue ("add", "missing", "you forgot")
    to the end of its sentence; a term counts when the work has it and the
    task and rubric do not (words of the task would be in any work).
    """
    clauses = 0
    terms: set[str] = set()
    for s in sents:
        m = _ASKS.search(s)
        if m is None:
            continue
        present = (content_words(s[m.end() :]) & work) - context
        if present:
            clauses += 1
            terms |= present
    return clauses, len(terms)


_YES = re.compile(
    r"^\W*(yes|yep|correct|right|exactly|good|great|nice|perfect|well done|spot on)\b", re.I
)
_NO = re.compile(
    r"^\W*(no|nope|not quite|not really|wrong|incorrect|careful|hmm|close|almost)\b", re.I
)
_ABSENT = re.compile(
    r"\b(add|include|missing|mention|there'?s no|there is no|doesn'?t have|lacks?|without|"
    r"forgot)\b",
    re.I,
)


def _opening_verdict(first: str) -> float:
    """+1 when the feedback opens with a yes, -1 with a no, else 0."""
    return 1.0 if _YES.search(first) else -1.0 if _NO.search(first) else 0.0


def _missing_but_present(sents: Sequence[str], work: set[str]) -> float:
    """The most a 'this is missing / add X' sentence names of what the work already has."""
    best = 0.0
    for s in sents:
        if _ABSENT.search(s):
            best = max(best, _share(content_words(s), work))
    return best


# the dimensions whose model reads the verdict-against-evidence block; for the
# others it is switched off (it did not help them in grouped cross-validation)
_EVIDENCE_DIMENSIONS = frozenset({"accurate"})


def unused_by(dimension: str, names: Sequence[str]) -> list[int]:
    """Columns of ``names`` that ``dimension``'s model does not read (weight zero)."""
    if dimension in _EVIDENCE_DIMENSIONS:
        return []
    skip = set(EVIDENCE)
    return [k for k, n in enumerate(names) if n in skip]


class Features:
    """Feature matrices for a batch of items: names and values, one row an item."""

    def __init__(self, names: Sequence[str], values: NDArray[np.float64], dim_embedding: int):
        self.names = list(names)
        self.values = values
        self.dim_embedding = dim_embedding

    @property
    def dense_names(self) -> list[str]:
        """The named (non-embedding) features."""
        return self.names[: len(self.names) - self.dim_embedding]


def featurize(items: Sequence[FeedbackItem], embedder: Embedder) -> Features:
    """Both blocks for ``items``, embedding every distinct text once."""
    ling = np.array([linguistic(i) for i in items], dtype=np.float64).reshape(len(items), -1)
    texts: dict[str, int] = {}
    for i in items:
        for t in (i.feedback, i.work, i.task, i.reference or "", "\n".join(i.rubric)):
            texts.setdefault(t, len(texts))
    vecs = embedder.embed(list(texts)) if texts else np.zeros((0, embedder.dim), np.float32)

    def v(text: str) -> NDArray[np.float32]:
        row: NDArray[np.float32] = vecs[texts[text]]
        return row

    cos = np.zeros((len(items), len(_EMBEDDED) + len(_EMBEDDED_X)))
    verdict = [LINGUISTIC.index(n) for n in ("approve", "criticise", "polarity")]
    for row, i in enumerate(items):
        fb = v(i.feedback)
        work_ref = float(v(i.work) @ v(i.reference)) if i.reference and i.work else 0.0
        cos[row] = [
            float(fb @ v(i.work)) if i.work else 0.0,
            float(fb @ v(i.task)) if i.task else 0.0,
            float(fb @ v(i.reference)) if i.reference else 0.0,
            work_ref,
            float(fb @ v("\n".join(i.rubric))) if i.rubric else 0.0,
            *(float(ling[row, k]) * work_ref for k in verdict),
        ]
    own = np.array([v(i.feedback) for i in items], dtype=np.float64).reshape(len(items), -1)
    names = [*LINGUISTIC, *_EMBEDDED, *_EMBEDDED_X, *(f"emb_{k}" for k in range(own.shape[1]))]
    return Features(names, np.hstack([ling, cos, own]), own.shape[1])
