"""POST /v1/audio/transcriptions, in OpenAI's shape, for the OpenAI SDKs.

`model` is accepted and echoed nowhere: the engine is the one `[speech]` configures (a
server has one). `response_format` picks json, text, srt, vtt or verbose_json (segments,
and words when `timestamp_granularities[]` asks for them).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.openai.schemas import TranscriptionForm, TranscriptionJson, TranscriptionVerbose
from roost.api.uploads import Upload, receive_form
from roost.core.errors import InvalidRequest
from roost.core.speech import SpeechOptions, Transcript
from roost.services import subtitles

router = APIRouter(tags=["openai"])

FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
_LANGUAGE_NAMES = {"en": "english", "es": "spanish", "fr": "french", "de": "german"}


def _temperature(form: Upload) -> float | None:
    raw = form.text("temperature", max_chars=32)
    if raw is None or not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidRequest(f"temperature '{raw}' is not a number", "temperature") from None


def _format(form: Upload) -> str:
    chosen = form.text("response_format", max_chars=32) or "json"
    if chosen not in FORMATS:
        raise InvalidRequest(
            f"response_format '{chosen}' is not one of {', '.join(FORMATS)}", "response_format"
        )
    return chosen


def verbose(transcript: Transcript, words: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": _LANGUAGE_NAMES.get(transcript.language, transcript.language),
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": [
            {
                "id": index,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": 1.0,
                "no_speech_prob": s.no_speech_prob,
            }
            for index, s in enumerate(transcript.segments)
        ],
    }
    if words:
        body["words"] = [{"word": w.word, "start": w.start, "end": w.end} for w in transcript.words]
    return body


def render(transcript: Transcript, response_format: str, words: bool) -> Response:
    if response_format == "json":
        return JSONResponse({"text": transcript.text})
    if response_format == "verbose_json":
        return JSONResponse(verbose(transcript, words))
    if response_format == "srt":
        return PlainTextResponse(subtitles.srt(transcript))
    if response_format == "vtt":
        return PlainTextResponse(subtitles.vtt(transcript), media_type="text/vtt")
    return PlainTextResponse(subtitles.text(transcript))


RESPONSES: docs.Responses = {
    200: {
        "model": TranscriptionJson | TranscriptionVerbose,
        "description": "The transcript in the asked `response_format`",
        "content": {
            **docs.text("text/plain", "text, or srt subtitles"),
            **docs.text("text/vtt", "WebVTT subtitles"),
        },
    }
}


@router.post(
    "/audio/transcriptions",
    response_model=None,
    responses=RESPONSES,
    openapi_extra=docs.body(TranscriptionForm, "multipart/form-data"),
)
async def transcriptions(
    request: Request, services: ServicesDep, principal: PrincipalDep
) -> Response:
    async with receive_form(request) as form:
        upload = form.file("file")
        form.text("model", max_chars=200)
        response_format = _format(form)
        granularities = form.texts("timestamp_granularities[]", max_chars=32)
        granularities += form.texts("timestamp_granularities", max_chars=32)
        if any(g not in ("segment", "word") for g in granularities):
            raise InvalidRequest(
                "timestamp_granularities may be 'segment' and 'word'", "timestamp_granularities"
            )
        options = SpeechOptions(
            language=form.text("language", max_chars=20),
            prompt=form.text("prompt", max_chars=4000),
            temperature=_temperature(form),
        )
        transcript = await services.transcription.transcribe(upload.file, upload.filename, options)
    return render(transcript, response_format, "word" in granularities)
