"""The accountability loop: commitments, check-ins, partner follow-ups and
early warning of drop-out.

- ``records`` / ``importer``: the JSONL records and their atomic import;
- ``drafting``: a next step as an implementation intention, and its check;
  ``llm_drafter``: the same through the LLM client, checked, offline fallback;
- ``requests``: the typed requests of the operations;
- ``followups`` / ``periodic`` / ``jobs``: scheduled steps, the periodic sweep, signed webhooks;
- ``features`` / ``risk`` / ``synthetic``: the risk score, its words, its evaluation;
- ``health`` / ``pairing``: community health, partners for the isolated;
- ``service``: :class:`Accountability`, the Python API;
- ``api``: the HTTP endpoints.
"""

from __future__ import annotations

from huddle_ai.accountability.clock import Clock, ManualClock, SystemClock
from huddle_ai.accountability.drafting import CommitmentDraft, DraftIssue, draft_commitment
from huddle_ai.accountability.followups import EVENT_TYPES, FollowupPolicy, WebhookSender
from huddle_ai.accountability.health import CommunityHealth
from huddle_ai.accountability.importer import ImportReport
from huddle_ai.accountability.llm_drafter import LLMDrafter
from huddle_ai.accountability.pairing import PairingSuggestion
from huddle_ai.accountability.records import (
    CheckinRecord,
    CommitmentRecord,
    EnrollmentRecord,
    EventRecord,
    parse_lines,
)
from huddle_ai.accountability.risk import HeuristicRisk, LearnerRisk, RiskModel
from huddle_ai.accountability.service import Accountability
from huddle_ai.accountability.synthetic import evaluate_risk, generate_cohorts

__all__ = [
    "EVENT_TYPES",
    "Accountability",
    "CheckinRecord",
    "Clock",
    "CommitmentDraft",
    "CommitmentRecord",
    "CommunityHealth",
    "DraftIssue",
    "EnrollmentRecord",
    "EventRecord",
    "FollowupPolicy",
    "HeuristicRisk",
    "ImportReport",
    "LLMDrafter",
    "LearnerRisk",
    "ManualClock",
    "PairingSuggestion",
    "RiskModel",
    "SystemClock",
    "WebhookSender",
    "draft_commitment",
    "evaluate_risk",
    "generate_cohorts",
    "parse_lines",
]
