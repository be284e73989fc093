"""POST /api/transcription (LlamaChat) and POST /v1/audio/transcriptions (OpenAI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.audio import FORMATS, FOX, FOX_WORDS, TWO_SENTENCES, encoded, words
from tests.conftest import Env

MB = 1024 * 1024


async def test_llamachat_transcribes_a_wav(env: Env) -> None:
    response = await env.client.post(
        "/api/transcription", files={"audio": ("recording.wav", FOX.read_bytes(), "audio/wav")}
    )
    assert response.status_code == 200
    assert set(response.json()) == {"text"}
    assert words(response.json()["text"]) >= FOX_WORDS


@pytest.mark.parametrize("extension", FORMATS)
async def test_llamachat_every_format_gives_the_same_words(env: Env, extension: str) -> None:
    data = encoded(FOX, extension)
    response = await env.client.post(
        "/api/transcription", files={"audio": (f"recording.{extension}", data)}
    )
    assert response.status_code == 200, response.text
    assert words(response.json()["text"]) >= FOX_WORDS


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        ({"audio": ("notes.wav", b"Dear diary, today I renamed a text file.\n" * 10)}, None, "WAV"),
        ({"audio": ("empty.wav", b"")}, None, "'empty.wav' is empty"),
        ({"audio": ("x.flac", encoded(FOX, "flac")[:300])}, None, "FLAC"),
        ({"recording": ("fox.wav", b"RIFF")}, None, "Missing required parameter: audio"),
        (None, {"audio": "not a file"}, "'audio' must be a file"),
        (None, None, "Missing required parameter: audio"),
    ],
)
async def test_llamachat_bad_uploads_are_400(
    env: Env, files: dict[str, object] | None, data: dict[str, str] | None, message: str
) -> None:
    response = await env.client.post("/api/transcription", files=files, data=data)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]


async def _chunks(total: int, size: int = MB) -> AsyncIterator[bytes]:
    boundary_head = (
        b'--b\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n"
    )
    yield boundary_head
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"\0" * piece
    yield b"\r\n--b--\r\n"


async def test_an_upload_over_100_mb_is_413_while_it_streams(env: Env) -> None:
    # No Content-Length: the bound is enforced on the bytes as they arrive.
    response = await env.client.post(
        "/api/transcription",
        content=_chunks(101 * MB),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert response.json() == {"error": f"request body is larger than {101 * MB} bytes"}


async def test_a_declared_size_over_the_bound_is_refused_before_reading(env: Env) -> None:
    body = b"x" * 1000
    response = await env.client.post(
        "/api/transcription",
        content=body,
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(102 * MB),
        },
    )
    assert response.status_code == 413


async def test_the_upload_bound_is_for_the_upload_routes_only(env: Env) -> None:
    # Other routes keep the small JSON bound.
    big = {"message": "x" * (2 * MB)}
    assert (await env.client.post("/api/chat", json=big)).status_code == 413


async def test_an_unknown_caller_is_refused_before_the_upload_is_read(env: Env) -> None:
    response = await env.client.post(
        "/api/transcription",
        content=_chunks(5 * MB),
        headers={"Content-Type": "multipart/form-data; boundary=b", "X-API-Key": "wrong"},
    )
    assert response.status_code == 401
    assert set(response.json()) == {"error"}


# --- OpenAI ---------------------------------------------------------------------------


async def test_openai_json_and_text(env: Env) -> None:
    files = {"file": ("fox.mp3", encoded(FOX, "mp3"))}
    plain = await env.client.post(
        "/v1/audio/transcriptions", files=files, data={"model": "whisper-1"}
    )
    assert plain.status_code == 200
    assert words(plain.json()["text"]) >= FOX_WORDS
    text = await env.client.post(
        "/v1/audio/transcriptions", files=files, data={"model": "x", "response_format": "text"}
    )
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == plain.json()["text"] + "\n"


async def test_openai_verbose_json_srt_and_vtt(env: Env) -> None:
    files = {"file": ("two.wav", TWO_SENTENCES.read_bytes())}
    verbose = await env.client.post(
        "/v1/audio/transcriptions",
        files=files,
        data={
            "model": "whisper-1",
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["segment", "word"],
        },
    )
    body = verbose.json()
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    assert body["duration"] == pytest.approx(5.365)
    first, second = body["segments"]
    assert (first["id"], second["id"]) == (0, 1)
    assert first["start"] < first["end"] < second["start"] < second["end"] <= 5.365
    assert body["text"] == f"{first['text']} {second['text']}"
    assert {"good", "morning"} <= {w["word"] for w in body["words"]}

    srt = await env.client.post(
        "/v1/audio/transcriptions", files=files, data={"model": "m", "response_format": "srt"}
    )
    blocks = srt.text.strip().split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].splitlines()[0] == "1"
    assert blocks[0].splitlines()[1].startswith("00:00:00,")
    assert blocks[1].splitlines()[2] == second["text"]

    vtt = await env.client.post(
        "/v1/audio/transcriptions", files=files, data={"model": "m", "response_format": "vtt"}
    )
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.")
    assert vtt.headers["content-type"].startswith("text/vtt")


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"response_format": "docx"}, "response_format"),
        ({"language": "fr"}, "language"),
        ({"language": "english please"}, "language"),
        ({"temperature": "warm"}, "temperature"),
        ({"temperature": "3"}, "temperature"),
        ({"timestamp_granularities[]": "char"}, "timestamp_granularities"),
    ],
)
async def test_openai_bad_fields_are_400_in_openai_shape(
    env: Env, data: dict[str, str], param: str
) -> None:
    response = await env.client.post(
        "/v1/audio/transcriptions", files={"file": ("fox.wav", FOX.read_bytes())}, data=data
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_openai_missing_file_and_not_audio(env: Env) -> None:
    missing = await env.client.post("/v1/audio/transcriptions", data={"model": "whisper-1"})
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "file"
    text = await env.client.post(
        "/v1/audio/transcriptions", files={"file": ("a.mp3", b"hello " * 100)}, data={"model": "w"}
    )
    assert text.status_code == 400
    assert "MP3" in text.json()["error"]["message"]
