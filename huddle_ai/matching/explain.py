"""Explanations: a short reason per recommended pair, from its strongest components.

Each component that is both strong and weighs in the total contributes one
phrase backed by evidence from the learner's history (counts, topics,
criteria, teams). Phrases are ordered by their weighted contribution.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from huddle_ai.matching.affinity import Weights
from huddle_ai.matching.history import History

__all__ = ["partner_reason", "review_reason"]

SIMILAR = 0.5  # raw cosine above which two texts count as "similar" in a reason
HIGHLY_RATED = 0.7
_MAX_PHRASES = 3


def _topic(history: History, huddle_ids: list[str]) -> str:
    if not huddle_ids:
        return ""
    hid, _ = Counter(huddle_ids).most_common(1)[0]
    huddle = history.huddles.get(hid)
    return f" in “{huddle.title}”" if huddle is not None else ""


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _expertise(history: History, row: int, solution_id: str) -> str | None:
    mine = np.flatnonzero(history.item_owner == row)
    if len(mine) == 0:
        return None
    sims = history.item_vecs[mine] @ history.solution_vecs[solution_id]
    close = [history.items[i] for i, s in zip(mine, sims, strict=True) if s >= SIMILAR]
    close = [it for it in close if it.solution_id != solution_id]
    if not close:
        return None
    wrote = sum(1 for it in close if it.kind == "solution")
    reviewed = len(close) - wrote
    parts = []
    if wrote:
        parts.append(f"wrote {_plural(wrote, 'similar solution')}")
    if reviewed:
        parts.append(f"gave feedback on {_plural(reviewed, 'similar solution')}")
    return " and ".join(parts) + _topic(history, [it.huddle_id for it in close])


def _helpfulness(history: History, row: int, solution_id: str) -> str | None:
    mine = [k for k, i in enumerate(history.rated) if history.items[i].owner == row]
    if not mine:
        return None
    sims = history.topic_vecs[mine] @ history.solution_vecs[solution_id]
    items = [history.items[history.rated[k]] for k in mine]
    good = [
        it
        for it, s in zip(items, sims, strict=True)
        if s >= SIMILAR and (it.helpfulness or 0.0) >= HIGHLY_RATED
    ]
    if good:
        return (
            f"has given {_plural(len(good), 'highly rated piece', 'highly rated pieces')} "
            f"of feedback on similar solutions{_topic(history, [it.huddle_id for it in good])}"
        )
    mean = float(np.mean([it.helpfulness or 0.0 for it in items]))
    if mean >= HIGHLY_RATED:
        return f"their feedback is rated {mean:.2f} helpful on average ({len(items)} rated)"
    return None


def _criteria_names(history: History, cols: list[int]) -> str:
    names = {c.id: c.name for h in history.huddles.values() for c in h.rubric}
    return ", ".join(names.get(history.criteria[j], history.criteria[j]) for j in cols[:3])


def _complementarity(history: History, row: int, solution_id: str) -> str | None:
    if not history.criteria:
        return None
    weak = history.weakness([solution_id])[0]
    strong = history.strength[row]
    cols = [j for j in np.argsort(-(weak * strong)) if weak[j] > 0.5 and strong[j] >= 0.6]
    if not cols:
        return None
    return (
        f"strong on {_criteria_names(history, [int(j) for j in cols])} where this solution is weak"
    )


def _teams(history: History, a: int, b: int) -> str | None:
    ta, tb = history.learners[a].team, history.learners[b].team
    if ta and tb and ta != tb:
        return f"from another team ({ta}, not {tb})"
    return None


def _novelty(history: History, a: int, b: int, value: float) -> str | None:
    pair = (min(a, b), max(a, b))
    met = history.contacts.get(pair, 0)
    other = history.learners[b].display_name
    if met == 0:
        return f"has not worked with {other} before"
    if value >= 0.6 and pair not in history.undated:  # an undated exchange may be recent
        return f"has not worked with {other} recently ({_plural(met, 'past exchange')}, long ago)"
    return None


def _join(phrases: list[tuple[float, str | None]], fallback: str) -> str:
    kept = [p for _, p in sorted(phrases, key=lambda x: -x[0]) if p]
    return "; ".join(kept[:_MAX_PHRASES]) or fallback


def review_reason(
    history: History, row: int, solution_id: str, comps: dict[str, float], weights: Weights
) -> str:
    """Why learner ``row`` should review ``solution_id``."""
    w = weights.normalized()
    owner = history.index.get(history.solutions[solution_id].learner_id, -1)
    phrases: list[tuple[float, str | None]] = [
        (w["expertise"] * comps["expertise"], _expertise(history, row, solution_id)),
        (w["helpfulness"] * comps["helpfulness"], _helpfulness(history, row, solution_id)),
    ]
    if comps["complementarity"] >= 0.55:
        phrases.append(
            (
                w["complementarity"] * comps["complementarity"],
                _complementarity(history, row, solution_id),
            )
        )
    if owner >= 0 and w["diversity"] > 0:
        phrases.append((w["diversity"] * comps["diversity"], _teams(history, row, owner)))
    if owner >= 0 and w["novelty"] > 0:
        phrases.append(
            (w["novelty"] * comps["novelty"], _novelty(history, row, owner, comps["novelty"]))
        )
    return _join(phrases, "the best available reviewer under the constraints")


def partner_reason(
    history: History,
    a: int,
    b: int,
    comps: dict[str, float],
    weights: Weights,
    huddle_id: str | None = None,
) -> str:
    """Why learners ``a`` and ``b`` should partner (topics from ``huddle_id`` when both
    have work there, so a reason for a huddle's partners cites that huddle)."""
    w = weights.normalized()
    phrases: list[tuple[float, str | None]] = []
    if comps["expertise"] >= 0.5:
        in_huddle = np.array([it.huddle_id == huddle_id for it in history.items], dtype=bool)
        own_a, own_b = history.item_owner == a, history.item_owner == b
        if huddle_id is not None and (own_a & in_huddle).any() and (own_b & in_huddle).any():
            own_a, own_b = own_a & in_huddle, own_b & in_huddle
        mine_a, mine_b = history.item_vecs[own_a], history.item_vecs[own_b]
        topic = ""
        if len(mine_a) and len(mine_b):
            best = np.unravel_index(int(np.argmax(mine_a @ mine_b.T)), (len(mine_a), len(mine_b)))
            item = [it for it, keep in zip(history.items, own_a, strict=True) if keep][int(best[0])]
            topic = _topic(history, [item.huddle_id])
        phrases.append((w["expertise"] * comps["expertise"], f"work on similar problems{topic}"))
    if comps["complementarity"] >= 0.6 and history.criteria:
        diff = history.strength[a] - history.strength[b]
        ja, jb = int(np.argmax(diff)), int(np.argmin(diff))
        text = []
        if diff[ja] > 0.15:
            text.append(
                f"{history.learners[a].display_name} is strong on {_criteria_names(history, [ja])}"
            )
        if diff[jb] < -0.15:
            text.append(
                f"{history.learners[b].display_name} is strong on {_criteria_names(history, [jb])}"
            )
        if text:
            phrases.append((w["complementarity"] * comps["complementarity"], ", ".join(text)))
    if comps["helpfulness"] >= HIGHLY_RATED:
        phrases.append(
            (w["helpfulness"] * comps["helpfulness"], "both give feedback peers rate helpful")
        )
    phrases.append((w["diversity"] * comps["diversity"], _teams(history, a, b)))
    phrases.append((w["novelty"] * comps["novelty"], _novelty(history, a, b, comps["novelty"])))
    return _join(phrases, "the best available partner under the constraints")
