"""kernel2's wire shapes for /openapi.json: its error body (Second-Me's)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Kernel2Error(BaseModel):
    success: Literal[False]
    message: str
    code: int = Field(description="The HTTP status")


class Kernel2StreamError(Kernel2Error):
    """An error after the stream opened, with an empty choice so chunk readers stop cleanly."""

    choices: list[dict[str, Any]]
