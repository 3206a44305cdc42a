"""``Accountability``: the accountability loop over one database and one clock
(the Python API; the CLI, HTTP endpoints and jobs call it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy.orm import Session

from huddle_ai.accountability.clock import Clock, SystemClock
from huddle_ai.accountability.drafting import CommitmentDraft, DraftIssue, draft_commitment
from huddle_ai.accountability.features import LearnerFeatures, compute_features
from huddle_ai.accountability.followups import (
    FollowupPolicy,
    WebhookSender,
    commitment_json,
    schedule,
    sweep,
)
from huddle_ai.accountability.health import CommunityHealth, community_health
from huddle_ai.accountability.importer import ImportReport, import_lines, import_parsed
from huddle_ai.accountability.llm_drafter import LLMDrafter
from huddle_ai.accountability.periodic import start_sweeps
from huddle_ai.accountability.records import (
    CheckinRecord,
    CommitmentRecord,
    ParsedFile,
)
from huddle_ai.accountability.requests import (
    CheckinRequest,
    CommitRequest,
    DraftRequest,
    FollowupRequest,
    StatusRequest,
)
from huddle_ai.accountability.risk import HeuristicRisk, LearnerRisk, RiskModel, fit_risk_model
from huddle_ai.errors import InvalidInputError, NotFoundError
from huddle_ai.index.database import Database
from huddle_ai.index.database import accountability as q
from huddle_ai.index.database.models import Enrollment
from huddle_ai.index.store import Store
from huddle_ai.records import validate_org
from huddle_ai.suggest.suggestion import SuggestionBody

__all__ = ["Accountability"]


_REQUIRED = {"no_date", "no_owner", "past_date", "no_action"}


class Accountability:
    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        policy: FollowupPolicy | None = None,
        observe_days: int = 21,
        drafter: LLMDrafter | None = None,
    ) -> None:
        """``drafter``: write drafts through an LLM (offline when None)."""
        self.db = db
        self.drafter = drafter
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.policy = policy if policy is not None else FollowupPolicy()
        self.observe_days = observe_days
        self._models: dict[str, tuple[int, RiskModel | HeuristicRisk]] = {}

    # -- records --------------------------------------------------------------------
    def import_lines(
        self,
        org: str,
        lines: Iterable[str | bytes],
        *,
        allow_past_due: bool = False,
        source: str = "records",
    ) -> ImportReport:
        return import_lines(
            self.db,
            org,
            lines,
            now=self.clock.now(),
            allow_past_due=allow_past_due,
            source=source,
        )

    def import_file(self, org: str, path: Path, *, allow_past_due: bool = False) -> ImportReport:
        with path.open("rb") as fh:
            return self.import_lines(org, fh, allow_past_due=allow_past_due, source=str(path))

    # -- next step -> commitment ------------------------------------------------------
    def draft(self, step: str, **kw: Any) -> CommitmentDraft:
        if self.drafter is not None:
            return self.drafter.draft(step, now=self.clock.now(), **kw)
        return draft_commitment(step, now=self.clock.now(), **kw)

    def draft_from_suggestion(
        self, suggestion: SuggestionBody, *, learner_id: str | None, **kw: Any
    ) -> CommitmentDraft:
        return self.draft(suggestion.next_step, learner_id=learner_id, source="next_step", **kw)

    def draft_request(self, req: DraftRequest) -> CommitmentDraft:
        return self.draft(
            req.step,
            learner_id=req.learner_id,
            huddle_id=req.huddle_id,
            due_at=req.due_at.astimezone(UTC) if req.due_at else None,
            cue=req.cue,
            partner_id=req.partner_id,
            solution_id=req.solution_id,
            source=req.source,
        )

    @staticmethod
    def blocking(draft: CommitmentDraft, *, allow_vague: bool = False) -> list[DraftIssue]:
        """The issues that keep ``draft`` from becoming a commitment."""
        return [i for i in draft.issues if i.code in _REQUIRED or not allow_vague]

    def commit(
        self,
        org: str,
        draft: CommitmentDraft,
        *,
        commitment_id: str | None = None,
        allow_vague: bool = False,
    ) -> CommitmentRecord:
        """Store a draft as an open commitment (a draft without date or owner is refused;
        a vague one unless ``allow_vague``; an id already taken too)."""
        if blocking := self.blocking(draft, allow_vague=allow_vague):
            raise InvalidInputError(
                "commitment draft is not ready: "
                + "; ".join(f"{i.field}: {i.message}" for i in blocking)
            )
        assert draft.learner_id is not None and draft.due_at is not None
        if not draft.huddle_id:
            raise InvalidInputError("huddle_id: the commitment draft names no huddle")
        if commitment_id is not None:
            with self.db.session() as s:
                if q.get_commitment(s, org, commitment_id) is not None:
                    raise InvalidInputError(
                        f"commitment_id: {commitment_id!r} exists in {org!r}; choose another id"
                    )
        rec = CommitmentRecord(
            id=commitment_id or f"cm-{uuid.uuid4().hex[:16]}",
            learner_id=draft.learner_id,
            huddle_id=draft.huddle_id,
            solution_id=draft.solution_id,
            text=draft.text,
            due_at=draft.due_at,
            partner_id=draft.partner_id,
            created_at=self.clock.now(),
        )
        parsed = ParsedFile(commitments=[(1, rec)])
        import_parsed(self.db, org, parsed, now=self.clock.now(), source="commitment")
        return rec

    def commit_request(
        self, org: str, req: CommitRequest, conn: Redis | None = None
    ) -> tuple[CommitmentRecord, CommitmentDraft, list[str]]:
        """Draft, check and store a commitment; with ``conn`` and ``req.schedule``
        its follow-ups go on the scheduler. Returns it, its draft and the job ids."""
        validate_org(org)
        draft = self.draft_request(req)
        rec = self.commit(org, draft, commitment_id=req.commitment_id, allow_vague=req.allow_vague)
        jobs = schedule(conn, org, rec.id, rec.due_at, self.policy) if conn and req.schedule else []
        return rec, draft, jobs

    def checkin_request(self, org: str, commitment_id: str, req: CheckinRequest) -> CheckinRecord:
        self._existing(org, commitment_id)
        return self.checkin(
            org,
            commitment_id,
            author=req.author,
            status=req.status,
            reflection=req.reflection,
            checkin_id=req.checkin_id,
        )

    def _existing(self, org: str, commitment_id: str) -> dict[str, Any]:
        validate_org(org)
        with self.db.session() as s:
            c = q.get_commitment(s, org, commitment_id)
            if c is None:
                raise NotFoundError(f"no commitment {commitment_id!r} in {org!r}")
            return commitment_json(c)

    def set_status(self, org: str, commitment_id: str, req: StatusRequest) -> dict[str, Any]:
        """Set a commitment's status (e.g. the facilitator closes it as dropped)."""
        self._existing(org, commitment_id)
        with self.db.session() as s:
            q.set_status(s, org, commitment_id, req.status)
        return self._existing(org, commitment_id)

    def checkin(
        self,
        org: str,
        commitment_id: str,
        *,
        author: str,
        status: str,
        reflection: str = "",
        checkin_id: str | None = None,
    ) -> CheckinRecord:
        rec = CheckinRecord.model_validate(
            {
                "id": checkin_id or f"ck-{uuid.uuid4().hex[:16]}",
                "commitment_id": commitment_id,
                "author": author,
                "status": status,
                "reflection": reflection,
                "created_at": self.clock.now(),
            }
        )
        import_parsed(
            self.db, org, ParsedFile(checkins=[(1, rec)]), now=self.clock.now(), source="checkin"
        )
        return rec

    def commitments(self, org: str, **filters: Any) -> list[dict[str, Any]]:
        validate_org(org)
        with self.db.session() as s:
            return [commitment_json(c) for c in q.commitments(s, org, **filters)]

    # -- follow-ups -----------------------------------------------------------------
    def subscribe(self, org: str, url: str | None) -> None:
        """Where this organization's accountability webhooks go (None: nowhere)."""
        validate_org(org)
        with self.db.session() as s:
            q.set_subscription(s, org, url)

    def schedule(self, conn: Redis, org: str, commitment_id: str) -> list[str]:
        with self.db.session() as s:
            c = q.get_commitment(s, org, commitment_id)
            if c is None:
                raise NotFoundError(f"no commitment {commitment_id!r} in {org!r}")
            due = c.due_at
        return schedule(conn, org, commitment_id, due, self.policy)

    def schedule_open(self, conn: Redis, org: str, *, huddle_id: str | None = None) -> int:
        """Put the follow-ups of every open commitment (of one huddle) on the scheduler."""
        validate_org(org)
        with self.db.session() as s:
            todo = [
                (c.id, c.due_at)
                for c in q.commitments(s, org, status="open")
                if huddle_id is None or c.huddle_id == huddle_id
            ]
        for cid, due in todo:
            schedule(conn, org, cid, due, self.policy)
        return len(todo)

    def start_sweeps(self, conn: Redis, org: str, every: timedelta) -> str:
        """Keep a periodic sweep running for ``org`` (idempotent); its tick job id."""
        return start_sweeps(conn, org, every=every, policy=self.policy, now=self.clock.now())

    def followups(self, conn: Redis, org: str, req: FollowupRequest) -> dict[str, Any]:
        """Schedule open commitments' follow-ups and keep the periodic sweep running."""
        n = self.schedule_open(conn, org, huddle_id=req.huddle_id)
        every = req.sweep_every_s
        tick = self.start_sweeps(conn, org, timedelta(seconds=every)) if every else None
        return {"org": org, "huddle_id": req.huddle_id, "scheduled": n, "sweep_job": tick}

    def sweep(self, sender: WebhookSender | None, org: str) -> list[dict[str, Any]]:
        return sweep(
            self.db, sender, org, now=self.clock.now(), policy=self.policy, risk=self.risk_in
        )

    # -- early warning ----------------------------------------------------------------
    def _features(
        self,
        s: Session,
        org: str,
        learners: Sequence[str],
        now: datetime,
        start: dict[str, datetime] | None = None,
    ) -> list[LearnerFeatures]:
        events = q.event_rows(s, org, until=now)
        comm = [(c.learner_id, c.status, c.due_at) for c in q.commitments(s, org)]
        return compute_features(learners, events, comm, now=now, start=start)

    def _model(self, s: Session, org: str) -> RiskModel | HeuristicRisk:
        """The model fitted on ``org``'s past cohorts (refitted only when they change:
        a sweep scores many learners with one fit)."""
        past = [e for e in q.enrollments(s, org) if e.outcome is not None and e.enrolled_at]
        if len(past) < 20:
            return HeuristicRisk()
        key = hash(tuple((e.cohort, e.learner_id, e.enrolled_at, e.outcome) for e in past))
        cached = self._models.get(org)
        if cached is not None and cached[0] == key:
            return cached[1]
        # each past learner as they were observe_days in: one pass per enrollment date
        groups: dict[tuple[str, datetime], list[Enrollment]] = {}
        for e in past:
            assert e.enrolled_at is not None
            groups.setdefault((e.cohort, e.enrolled_at), []).append(e)
        until = max(began for _, began in groups) + timedelta(days=self.observe_days)
        events = q.event_rows(s, org, until=until)
        comm = [(c.learner_id, c.status, c.due_at) for c in q.commitments(s, org)]
        feats: list[LearnerFeatures] = []
        dropped: list[bool] = []
        for (_, began), members in groups.items():
            ids = [e.learner_id for e in members]
            cutoff = began + timedelta(days=self.observe_days)
            start = dict.fromkeys(ids, began)
            feats.extend(compute_features(ids, events, comm, now=cutoff, start=start))
            dropped.extend(e.outcome == "dropped" for e in members)
        model: RiskModel | HeuristicRisk
        try:
            model = fit_risk_model(feats, dropped)
        except InvalidInputError:
            model = HeuristicRisk()
        self._models[org] = (key, model)
        return model

    def risk(self, org: str, *, cohort: str | None = None) -> list[LearnerRisk]:
        """Risk of every current learner (no final outcome yet), riskiest first."""
        validate_org(org)
        now = self.clock.now()
        with self.db.session() as s:
            current = [e for e in q.enrollments(s, org, cohort) if e.outcome is None]
            start = {e.learner_id: e.enrolled_at for e in current if e.enrolled_at}
            ids = sorted({e.learner_id for e in current})
            scored = self._model(s, org).score(self._features(s, org, ids, now, start))
        return sorted(scored, key=lambda r: -r.score)

    def risk_in(self, s: Session, org: str, learner_id: str, now: datetime) -> LearnerRisk:
        """One learner's risk inside an open unit of work (used by the follow-ups)."""
        return self._model(s, org).score(self._features(s, org, [learner_id], now))[0]

    def health(
        self, org: str, *, cohort: str | None = None, store: Store | None = None
    ) -> CommunityHealth:
        """Community health; with the organization's record ``store`` the isolated
        are paired through the partner matcher, else with the most generous givers."""
        validate_org(org)
        now = self.clock.now()
        with self.db.session() as s:
            members = sorted({e.learner_id for e in q.enrollments(s, org, cohort)})
            events = q.event_rows(s, org, until=now)
            comm = [
                (c.learner_id, c.status, c.due_at)
                for c in q.commitments(s, org)
                if c.learner_id in set(members)
            ]
        return community_health(org, members, events, comm, store=store)
