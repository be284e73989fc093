"""Approval of dangerous tool calls: a paused turn waits here for the user's answer.

A pending approval lives in the process whose turn waits for it; each belongs to one user,
and another user's id is simply not found. No answer within the timeout counts as a
denial, so a turn never waits forever. With a repository (replicas share the database)
it is also stored while it waits: an answer sent to another replica is recorded in its
row, which the waiting turn polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from roost.core.errors import NotFound
from roost.core.ids import new_uuid
from roost.core.records import User
from roost.storage.approvals import ApprovalRepository, StoredApproval

POLL_SECONDS = 0.25  # how often a waiting turn looks for an answer given to another replica


@dataclass
class Approval:
    id: str
    user_id: str
    conversation_id: str  # the session's public id
    call_id: str
    name: str
    arguments: dict[str, Any]
    created: float  # time.time()
    expires: float  # time.time() after which it is denied
    _answer: asyncio.Future[bool] = field(repr=False, default_factory=lambda: _future())

    @property
    def expires_in(self) -> float:
        return max(0.0, self.expires - time.time())


def _future() -> asyncio.Future[bool]:
    return asyncio.get_running_loop().create_future()


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    reason: str  # "approved" | "denied" | "timeout" | "cancelled"


MAX_PENDING_PER_USER = 100


class ApprovalService:
    def __init__(self, timeout_seconds: float, repo: ApprovalRepository | None = None) -> None:
        self._timeout = timeout_seconds
        self._repo = repo
        self._pending: dict[str, Approval] = {}

    def open(
        self, user: User, conversation_id: str, call_id: str, name: str, arguments: dict[str, Any]
    ) -> Approval:
        """Register a call that needs an answer; `wait` for it next."""
        mine = [a for a in self._pending.values() if a.user_id == user.id]
        if len(mine) >= MAX_PENDING_PER_USER:  # a runaway loop must not pile them up
            oldest = min(mine, key=lambda a: a.created)
            self._settle(oldest, False)
        now = time.time()
        approval = Approval(
            id=f"appr_{new_uuid().replace('-', '')[:24]}",
            user_id=user.id,
            conversation_id=conversation_id,
            call_id=call_id,
            name=name,
            arguments=arguments,
            created=now,
            expires=now + self._timeout,
        )
        self._pending[approval.id] = approval
        return approval

    async def wait(self, approval: Approval) -> Decision:
        """The user's answer, or a denial when the time runs out (or the turn is cancelled)."""
        stored = False
        try:
            if self._repo is not None:
                await self._repo.add(_stored(approval))
                stored = True
            while True:
                try:
                    approved = await asyncio.wait_for(
                        asyncio.shield(approval._answer), timeout=self._slice(approval)
                    )
                    break
                except TimeoutError:
                    if approval.expires_in <= 0:
                        return Decision(False, "timeout")
                    answer = await self._repo.answer_of(approval.id) if self._repo else None
                    if answer is not None:  # answered on another replica
                        approved = answer
                        break
        finally:
            self._pending.pop(approval.id, None)
            if not approval._answer.done():
                approval._answer.cancel()
            if stored and self._repo is not None:
                with contextlib.suppress(Exception):  # it expires either way
                    await asyncio.shield(self._repo.remove(approval.id))
        return Decision(approved, "approved" if approved else "denied")

    def _slice(self, approval: Approval) -> float:
        left = approval.expires_in
        return left if self._repo is None else min(left, POLL_SECONDS)

    async def pending(self, user: User) -> list[Approval]:
        """The user's unanswered approvals (on any replica), oldest first."""
        mine = {a.id: a for a in self._pending.values() if a.user_id == user.id}
        if self._repo is not None:
            for row in await self._repo.pending(user.id):
                mine.setdefault(row.id, _from_stored(row))
        return sorted(mine.values(), key=lambda a: a.created)

    async def answer(self, user: User, approval_id: str, approve: bool) -> Approval:
        """Approve or deny; another user's (or an answered, or expired) id is not found."""
        approval = self._pending.get(approval_id)
        if approval is not None and approval.user_id == user.id and not approval._answer.done():
            self._settle(approval, approve)
            return approval
        if approval is None and self._repo is not None and len(approval_id) <= 40:
            waiting = {a.id: a for a in await self._repo.pending(user.id)}.get(approval_id)
            if waiting is not None and await self._repo.answer(approval_id, user.id, approve):
                return _from_stored(waiting)
        raise NotFound(f"approval '{approval_id}' not found")

    def _settle(self, approval: Approval, approve: bool) -> None:
        with contextlib.suppress(asyncio.InvalidStateError):
            approval._answer.set_result(approve)
        self._pending.pop(approval.id, None)


def _stored(approval: Approval) -> StoredApproval:
    return StoredApproval(
        id=approval.id,
        user_id=approval.user_id,
        session_id=approval.conversation_id,
        call_id=approval.call_id,
        name=approval.name,
        arguments=approval.arguments,
        created_at=datetime.fromtimestamp(approval.created, UTC),
        expires_at=datetime.fromtimestamp(approval.expires, UTC),
    )


def _from_stored(row: StoredApproval) -> Approval:
    return Approval(
        id=row.id,
        user_id=row.user_id,
        conversation_id=row.session_id,
        call_id=row.call_id,
        name=row.name,
        arguments=row.arguments,
        created=row.created_at.timestamp(),
        expires=row.expires_at.timestamp(),
    )
