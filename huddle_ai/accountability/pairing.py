"""Partners for isolated learners: each learner nobody gave feedback to or
got feedback from is paired with a connected learner of the same organization.

Through the partner matcher (:func:`huddle_ai.matching.match_partners`) when
the organization's record store holds their work (at least one solution): an
exact maximum-affinity matching in which only isolated-with-connected pairs
are allowed (two isolated learners together, or two connected ones, are
excluded), so each suggestion comes with the matcher's reason. Learners with
no solutions in the store, or whom the matcher leaves unpaired or cannot
pair, get the most generous givers in turn (method ``generous_giver``), and
the result says why (``pairing_degraded`` in community health). Only the
organization's own learners are ever considered: the candidates come from
its enrollments, the store is read for that organization only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

from huddle_ai.errors import HuddleAIError
from huddle_ai.index.store import Store
from huddle_ai.matching import match_partners
from huddle_ai.matching.history import load_history

__all__ = ["MAX_CANDIDATES", "PairingSuggestion", "pair_isolated"]

MAX_CANDIDATES = 200  # connected learners offered to the matcher, most generous first


@dataclass(frozen=True)
class PairingSuggestion:
    learner_id: str  # the isolated learner
    partner_id: str
    method: str  # partner_matcher | generous_giver
    reason: str
    score: float | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _by_generosity(
    isolated: Sequence[str], givers: Sequence[str], given: Mapping[str, int]
) -> list[PairingSuggestion]:
    if not givers:
        return []
    return [
        PairingSuggestion(
            lid,
            givers[i % len(givers)],
            "generous_giver",
            f"{givers[i % len(givers)]} gave {given[givers[i % len(givers)]]} feedback so far",
        )
        for i, lid in enumerate(isolated)
    ]


def pair_isolated(
    org: str,
    isolated: Sequence[str],
    connected: Sequence[str],
    given: Mapping[str, int],
    *,
    store: Store | None = None,
    huddle_id: str | None = None,
) -> tuple[list[PairingSuggestion], str | None]:
    """One partner suggestion per isolated learner (when anyone is connected), and,
    when ``store`` was given but the matcher did not pair every isolated learner,
    why (those learners got a generous giver instead)."""
    givers = sorted((g for g in connected if given.get(g, 0) > 0), key=lambda g: (-given[g], g))
    if not isolated or not connected:
        return [], None
    out: list[PairingSuggestion] = []
    left = list(isolated)
    why: list[str] = []
    if store is not None:
        try:
            history = load_history(store, org)
            # a learner with no work stored gives the matcher nothing to go on but
            # "has not worked with them before": such learners take the fallback
            known = {sol.learner_id for sol in history.solutions.values()} & set(history.index)
        except HuddleAIError as exc:  # the store failed: pair without it, and say so
            known, failed = set(), True
            why.append(f"record store: {str(exc).splitlines()[0]}")
        else:
            failed = False
        lonely = [x for x in isolated if x in known]
        # most generous first, then the rest of the connected
        ranked = [*givers, *sorted(set(connected) - set(givers))]
        peers = [x for x in ranked if x in known][:MAX_CANDIDATES]
        if not failed and (unknown := [x for x in isolated if x not in known]):
            why.append(f"{_some(unknown)} with no solutions in the record store")
        if lonely and not peers:
            why.append("no connected learner has solutions in the record store")
        if lonely and peers:
            banned = [*combinations(lonely, 2), *combinations(peers, 2)]
            try:
                matching = match_partners(
                    store,
                    org,
                    learners=[*lonely, *peers],
                    huddle_id=huddle_id,
                    do_not_pair=banned,
                    avoid_repeats=False,
                )
            except HuddleAIError as exc:
                matching = None  # infeasible or unknown: the fallback below pairs them
                why.append(f"partner matcher: {str(exc).splitlines()[0]}")
            paired: set[str] = set()
            for g in matching.groups if matching else []:
                iso = [m for m in g.members if m in lonely]
                other = [m for m in g.members if m not in lonely]
                for lid in iso:
                    if not other:
                        continue
                    reason = g.reasons.get(f"{lid}+{other[0]}") or g.reasons.get(
                        f"{other[0]}+{lid}", ""
                    )
                    out.append(PairingSuggestion(lid, other[0], "partner_matcher", reason, g.score))
                    paired.add(lid)
            left = [x for x in isolated if x not in paired]
            if matching is not None and (unpaired := [x for x in lonely if x not in paired]):
                why.append(f"the partner matcher left {_some(unpaired)} unpaired")
    out.extend(_by_generosity(left, givers, given))
    degraded = "; ".join(why) + " (paired with generous givers)" if why else None
    return sorted(out, key=lambda p: p.learner_id), degraded


def _some(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
    return f"{len(ids)} isolated learner{'s' if len(ids) != 1 else ''} ({shown})"
