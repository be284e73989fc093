"""A MemGPT agent's system message keeps what is stable first (for prefix reuse)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from roost.core.agents import Agent
from roost.services.agents.context import system_text

NOW = datetime(2026, 12, 7, tzinfo=UTC)
AGENT = Agent(
    id="a",
    key=1,
    user_id="u",
    name="sam",
    preset="memgpt_chat",
    model=None,
    system="You are MemGPT.",
    persona="I am Sam.",
    human="The user likes cats.",
    persona_name=None,
    human_name=None,
    tools=[],
    meta={},
    summary=None,
    context_from=0,
    created_at=NOW,
    updated_at=NOW,
)


def test_steps_share_the_instructions_and_core_memory_as_a_prefix() -> None:
    one = system_text(AGENT, recall=4, archival=0)
    later = replace(AGENT, updated_at=NOW + timedelta(seconds=5))
    two = system_text(later, recall=6, archival=1)
    stable = one[: one.index("</human>") + len("</human>")]
    assert two.startswith(stable)
    assert "I am Sam." in stable
    assert "The user likes cats." in stable
    assert "6 previous messages" in two  # the statistics are still there, after it
