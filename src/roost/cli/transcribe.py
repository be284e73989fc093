"""`roost transcribe FILE`: speech to text with the configured engine, in-process.

Needs no server and no database: only the `[speech]` settings.
"""

from __future__ import annotations

import asyncio
import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.errors import reports_errors
from roost.config import Settings, load_settings

if TYPE_CHECKING:
    from roost.core.speech import Transcript


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    verbose_json = "verbose_json"
    srt = "srt"
    vtt = "vtt"


def _run(settings: Settings, path: Path, language: str | None) -> Transcript:
    from roost.core.speech import SpeechOptions
    from roost.services.transcription import TranscriptionService

    async def go() -> Transcript:
        service = TranscriptionService(settings)
        try:
            await service.check()
            with path.open("rb") as handle:
                return await service.transcribe(handle, path.name, SpeechOptions(language))
        finally:
            await service.close()

    return asyncio.run(go())


def _render(transcript: Transcript, chosen: Format) -> str:
    from roost.api.openai.audio import verbose
    from roost.services import subtitles

    if chosen is Format.json:
        return json.dumps({"text": transcript.text}, ensure_ascii=False) + "\n"
    if chosen is Format.verbose_json:
        return json.dumps(verbose(transcript, words=True), ensure_ascii=False, indent=2) + "\n"
    if chosen is Format.srt:
        return subtitles.srt(transcript)
    if chosen is Format.vtt:
        return subtitles.vtt(transcript)
    return subtitles.text(transcript)


@reports_errors
def transcribe(
    file: Annotated[Path, typer.Argument(help="An audio file: WAV, MP3, OGG, WEBM, M4A, FLAC.")],
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="How to print the transcript.")
    ] = Format.text,
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="Spoken language, e.g. en.")
    ] = None,
) -> None:
    """Transcribe an audio file with the [speech] engine and print the text."""
    settings = load_settings()
    transcript = _run(settings, file, language)
    typer.echo(_render(transcript, output_format), nl=False)
