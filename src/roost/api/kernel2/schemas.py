"""kernel2's wire shapes for /openapi.json: its error body (Second-Me's)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Kernel2Error(BaseModel):
    success: Literal[False]
    message: str
    code: int = Field(description="The HTTP status")
