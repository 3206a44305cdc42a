"""Peer matching: affinity, exact review assignment, partners, rolling picks, explanations."""

from huddle_ai.matching.affinity import COMPONENTS, Affinity, Weights
from huddle_ai.matching.feasibility import Problem
from huddle_ai.matching.partners import Grouping, group
from huddle_ai.matching.recommend import (
    NextReviewers,
    PartnerGroup,
    PartnerMatching,
    Review,
    ReviewAssignment,
    ReviewerPick,
    affinity_scores,
    match_partners,
    match_reviewers,
    next_reviewers,
)
from huddle_ai.matching.solver import Assignment, min_cost_flow, solve

__all__ = [
    "COMPONENTS",
    "Affinity",
    "Assignment",
    "Grouping",
    "NextReviewers",
    "PartnerGroup",
    "PartnerMatching",
    "Problem",
    "Review",
    "ReviewAssignment",
    "ReviewerPick",
    "Weights",
    "affinity_scores",
    "group",
    "match_partners",
    "match_reviewers",
    "min_cost_flow",
    "next_reviewers",
    "solve",
]
