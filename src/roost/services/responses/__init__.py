"""OpenAI Responses: stored responses as turns of the user's conversations."""

from roost.services.responses.service import (
    PreviousResponseNotFound,
    ResponseRequest,
    ResponseRun,
    ResponseService,
    ResponseView,
)

__all__ = [
    "PreviousResponseNotFound",
    "ResponseRequest",
    "ResponseRun",
    "ResponseService",
    "ResponseView",
]
