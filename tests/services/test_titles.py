"""Conversation titles: the model's answer cleaned, or the message cut cleanly."""

from __future__ import annotations

import pytest

from roost.core.errors import ProviderError
from roost.providers.scripted import ScriptedProvider, reply
from roost.services.titles import clean, clip, write_title


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Capital of France", "Capital of France"),
        ('"Capital of France."', "Capital of France"),
        ("Title: Paris trip\nHere is why...", "Paris trip"),
        ("**Weekend plans**", "Weekend plans"),
        ("\n\n  ...  \n", ""),
        ("", ""),
    ],
)
def test_clean(answer: str, title: str) -> None:
    assert clean(answer) == title


def test_clip_cuts_at_a_word() -> None:
    assert clip("short  and\nsweet") == "short and sweet"
    long = "word " * 30
    cut = clip(long)
    assert len(cut) <= 60
    assert cut.endswith("word…")
    assert clip("x" * 100) == "x" * 59 + "…"  # one long word: cut inside it


async def test_write_title_uses_the_model() -> None:
    provider = ScriptedProvider([reply("Trip to Paris")])
    assert await write_title(provider, "Plan me three days in Paris") == "Trip to Paris"
    [request] = provider.requests
    assert "Plan me three days in Paris" in request.messages[-1].content
    assert request.options.max_tokens is not None
    assert request.options.max_tokens <= 32


@pytest.mark.parametrize("script", [[ProviderError("down")], reply("   ")])
async def test_write_title_falls_back_to_the_message(script: list[object]) -> None:
    provider = ScriptedProvider([script])  # type: ignore[list-item]
    assert await write_title(provider, "  Plan me three days\nin Paris ") == (
        "Plan me three days in Paris"
    )
