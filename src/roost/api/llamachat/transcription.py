"""POST /api/transcription: a multipart `audio` file in, `{"text": ...}` out."""

from __future__ import annotations

from fastapi import APIRouter, Request

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.llamachat.schemas import TranscriptionForm, TranscriptionOut
from roost.api.uploads import receive_form

router = APIRouter(tags=["llamachat"])


@router.post(
    "/api/transcription", openapi_extra=docs.body(TranscriptionForm, "multipart/form-data")
)
async def transcription(
    request: Request, services: ServicesDep, principal: PrincipalDep
) -> TranscriptionOut:
    async with receive_form(request) as form:
        audio = form.file("audio")
        transcript = await services.transcription.transcribe(audio.file, audio.filename)
    return TranscriptionOut(text=transcript.text)
