"""Approval of dangerous tool calls: a paused turn waits here for the user's answer.

Pending approvals live in this process (a turn runs in the process that holds it); each
belongs to one user, and another user's id is simply not found. No answer within the
timeout counts as a denial, so a turn never waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from roost.core.errors import NotFound
from roost.core.ids import new_uuid
from roost.core.records import User


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
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
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
        try:
            approved = await asyncio.wait_for(
                asyncio.shield(approval._answer), timeout=approval.expires_in
            )
        except TimeoutError:
            return Decision(False, "timeout")
        finally:
            self._pending.pop(approval.id, None)
            if not approval._answer.done():
                approval._answer.cancel()
        return Decision(approved, "approved" if approved else "denied")

    def pending(self, user: User) -> list[Approval]:
        """The user's unanswered approvals, oldest first."""
        mine = [a for a in self._pending.values() if a.user_id == user.id]
        return sorted(mine, key=lambda a: a.created)

    def answer(self, user: User, approval_id: str, approve: bool) -> Approval:
        """Approve or deny; another user's (or an answered, or expired) id is not found."""
        approval = self._pending.get(approval_id)
        if approval is None or approval.user_id != user.id or approval._answer.done():
            raise NotFound(f"approval '{approval_id}' not found")
        self._settle(approval, approve)
        return approval

    def _settle(self, approval: Approval, approve: bool) -> None:
        with contextlib.suppress(asyncio.InvalidStateError):
            approval._answer.set_result(approve)
        self._pending.pop(approval.id, None)
