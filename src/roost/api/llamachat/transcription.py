"""POST /api/transcription: a multipart `audio` file in, `{"text": ...}` out."""

from __future__ import annotations

from fastapi import APIRouter, Request

from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.llamachat.schemas import TranscriptionOut
from roost.api.uploads import receive_form

router = APIRouter(tags=["llamachat"])


@router.post("/api/transcription")
async def transcription(
    request: Request, services: ServicesDep, principal: PrincipalDep
) -> TranscriptionOut:
    async with receive_form(request) as form:
        audio = form.file("audio")
        transcript = await services.transcription.transcribe(audio.file, audio.filename)
    return TranscriptionOut(text=transcript.text)
