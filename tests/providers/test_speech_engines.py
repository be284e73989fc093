"""The speech engines: PocketSphinx for real, whisper.cpp's configuration checks, and an
OpenAI-compatible upstream (a real roost, and a small server that misbehaves)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from roost.app import create_app
from roost.config import Settings, SpeechSettings
from roost.core.errors import ConfigError, InvalidRequest, ProviderError
from roost.core.speech import SpeechOptions
from roost.providers.speech import build_speech_provider
from roost.providers.speech.openai_speech import OpenAISpeechProvider
from roost.providers.speech.pocketsphinx import PocketSphinxProvider
from roost.providers.speech.whispercpp import WhisperCppProvider, model_file_problem
from tests import backend
from tests.audio import FORMATS, FOX, FOX_WORDS, TWO_SENTENCES, WEATHER_ESPEAK, encoded, words
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.serve_app import serve_app
from tests.upstreams import unused_url


@pytest.fixture(scope="module")
def sphinx() -> Iterator[PocketSphinxProvider]:
    provider = PocketSphinxProvider(SpeechSettings())
    yield provider
    asyncio.run(provider.close())


def transcribe(provider: Any, data: bytes, name: str, **options: Any) -> Any:
    return asyncio.run(provider.transcribe(io.BytesIO(data), name, SpeechOptions(**options)))


def test_pocketsphinx_recognises_the_sentence(sphinx: PocketSphinxProvider) -> None:
    result = transcribe(sphinx, FOX.read_bytes(), "fox.wav")
    assert words(result.text) >= FOX_WORDS
    assert result.language == "en"
    assert result.duration == pytest.approx(2.965)
    [segment] = result.segments
    assert 0.0 < segment.start < 0.5
    assert 2.5 < segment.end <= 2.965
    assert [w.word for w in result.words][:3] == ["the", "quick", "brown"]


@pytest.mark.parametrize("extension", FORMATS)
def test_pocketsphinx_hears_the_same_words_in_every_format(
    sphinx: PocketSphinxProvider, extension: str
) -> None:
    result = transcribe(sphinx, encoded(FOX, extension), f"fox.{extension}")
    assert words(result.text) >= FOX_WORDS, result.text


def test_pocketsphinx_answers_the_same_audio_the_same_way(sphinx: PocketSphinxProvider) -> None:
    # The decoder adapts to the speaker as it goes; each request starts from the same state.
    first = transcribe(sphinx, WEATHER_ESPEAK.read_bytes(), "w.wav").text
    transcribe(sphinx, TWO_SENTENCES.read_bytes(), "two.wav")
    assert transcribe(sphinx, WEATHER_ESPEAK.read_bytes(), "w.wav").text == first
    assert {"weather", "like"} <= words(first)  # espeak-ng's voice: a few words, not all


def test_pocketsphinx_splits_utterances_at_pauses(sphinx: PocketSphinxProvider) -> None:
    result = transcribe(sphinx, TWO_SENTENCES.read_bytes(), "two.wav")
    first, second = result.segments
    assert {"good", "morning", "today"} <= words(first.text)
    assert {"call", "tomorrow", "morning"} <= words(second.text)
    assert first.end < 2.4 < 3.0 < second.start  # the second starts after the silence
    assert result.text == f"{first.text} {second.text}"


def test_pocketsphinx_is_english_only(sphinx: PocketSphinxProvider) -> None:
    with pytest.raises(InvalidRequest, match="only an English model"):
        transcribe(sphinx, FOX.read_bytes(), "fox.wav", language="fr")


def test_pocketsphinx_runs_requests_side_by_side(sphinx: PocketSphinxProvider) -> None:
    async def both() -> list[Any]:
        return await asyncio.gather(
            sphinx.transcribe(io.BytesIO(FOX.read_bytes()), "a.wav", SpeechOptions()),
            sphinx.transcribe(io.BytesIO(TWO_SENTENCES.read_bytes()), "b.wav", SpeechOptions()),
        )

    fox, two = asyncio.run(both())
    assert words(fox.text) >= FOX_WORDS
    assert len(two.segments) == 2


# --- whisper.cpp ---------------------------------------------------------------------


def test_whispercpp_model_file_is_checked_before_loading(tmp_path: Path) -> None:
    assert "needs model_path" in (model_file_problem(None) or "")
    assert "cannot be read" in (model_file_problem(tmp_path / "missing.bin") or "")
    not_a_model = tmp_path / "model.bin"
    not_a_model.write_bytes(b"GGUF" + b"\0" * 100)  # a llama.cpp file, say
    assert "not a whisper.cpp (ggml) model" in (model_file_problem(not_a_model) or "")
    fake = tmp_path / "ggml-tiny.bin"
    fake.write_bytes(b"lmgg" + b"\0" * 100)
    assert model_file_problem(fake) is None


def test_whispercpp_without_its_package_is_a_config_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(home, ROOST_SPEECH_PROVIDER="whispercpp")
    isolated = build_speech_provider(settings)
    assert isolated.name == "whispercpp"
    assert "needs model_path" in (asyncio.run(isolated.probe()) or "")
    # The same check in the worker process, reported across it as the same error.
    with pytest.raises(ConfigError, match="needs model_path"):
        transcribe(isolated, FOX.read_bytes(), "fox.wav")
    asyncio.run(isolated.close())

    provider = WhisperCppProvider.from_settings(settings)

    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pywhispercpp" else real(name, *a),
    )
    assert "pip install 'roost[whisper]'" in (asyncio.run(provider.probe()) or "")
    assert "pip install 'roost[whisper]'" in (asyncio.run(isolated.probe()) or "")
    with pytest.raises(ConfigError, match="pywhispercpp"):
        transcribe(provider, FOX.read_bytes(), "fox.wav")


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pywhispercpp")
    from tests.whisper_model import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("whisper") / "ggml-tiny-random.bin")


def test_whispercpp_runs_a_model_file(tiny_whisper: Path) -> None:
    # Random weights: the text means nothing, but it comes from whisper.cpp through the
    # same path a real model takes (decode, float samples, segments, times).
    provider = WhisperCppProvider(SpeechSettings(provider="whispercpp"), tiny_whisper)
    assert asyncio.run(provider.probe()) is None
    result = transcribe(provider, encoded(FOX, "mp3"), "fox.mp3")
    assert result.text.strip()
    assert result.duration == pytest.approx(2.965, abs=0.01)
    assert result.language == "en"  # an English-only model: no detection to do
    assert result.segments
    assert all(0 <= s.start <= s.end <= result.duration for s in result.segments)
    assert result.text == " ".join(s.text for s in result.segments)
    with pytest.raises(InvalidRequest, match="English-only"):
        transcribe(provider, FOX.read_bytes(), "fox.wav", language="de")
    asyncio.run(provider.close())


def test_whispercpp_long_audio_goes_in_windows(
    tiny_whisper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roost.providers.speech.whispercpp as whispercpp

    monkeypatch.setattr(whispercpp, "WINDOW_SECONDS", 1)
    provider = WhisperCppProvider(SpeechSettings(provider="whispercpp"), tiny_whisper)
    result = transcribe(provider, TWO_SENTENCES.read_bytes(), "two.wav", language="en")
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert len(result.segments) >= 5  # one or more from each of the six one-second windows
    assert max(s.end for s in result.segments) <= result.duration
    asyncio.run(provider.close())


def test_whispercpp_model_path_is_relative_to_home(home: Path) -> None:
    (home / "models").mkdir()
    (home / "models" / "ggml-base.en.bin").write_bytes(b"lmgg" + b"\0" * 10)
    settings = make_settings(
        home, ROOST_SPEECH_PROVIDER="whispercpp", ROOST_SPEECH_MODEL_PATH="models/ggml-base.en.bin"
    )
    provider = WhisperCppProvider.from_settings(settings)
    assert provider._path == home / "models" / "ggml-base.en.bin"


# --- an OpenAI-compatible upstream ------------------------------------------------------


@pytest.fixture(scope="module")
def roost_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real roost with PocketSphinx, serving /v1/audio/transcriptions over HTTP."""
    home = tmp_path_factory.mktemp("upstream")
    settings = make_settings(home, **backend.dedicated_env("speech"))  # outlives a test
    with serve_app(create_app(settings, admin_password=ADMIN_PASSWORD)) as url:
        yield url + "/v1"


def remote(base_url: str, **settings: Any) -> OpenAISpeechProvider:
    speech = SpeechSettings(provider="openai", **settings)
    return OpenAISpeechProvider(speech, base_url=base_url, api_key=ADMIN_PASSWORD)


async def remote_transcribe(
    provider: OpenAISpeechProvider, data: bytes, name: str, **o: Any
) -> Any:
    try:
        return await provider.transcribe(io.BytesIO(data), name, SpeechOptions(**o))
    finally:
        await provider.close()


async def test_openai_upstream_transcribes_with_segments_and_words(roost_upstream: str) -> None:
    result = await remote_transcribe(remote(roost_upstream), encoded(FOX, "mp3"), "fox.mp3")
    assert words(result.text) >= FOX_WORDS
    assert result.language == "en"  # the upstream said "english"
    assert result.duration == pytest.approx(2.965, abs=0.01)
    assert len(result.segments) == 1
    assert "fox" in [w.word for w in result.words]


async def test_openai_upstream_is_not_called_for_a_file_that_is_not_audio() -> None:
    provider = remote(unused_url())  # nothing listens: a call would be a ProviderError
    with pytest.raises(InvalidRequest, match="WAV"):
        await remote_transcribe(provider, b"plain text" * 50, "memo.wav")


async def test_openai_upstream_failures_are_provider_errors(roost_upstream: str) -> None:
    with pytest.raises(ProviderError, match="connection refused"):
        await remote_transcribe(remote(unused_url()), FOX.read_bytes(), "fox.wav")
    wrong_key = OpenAISpeechProvider(
        SpeechSettings(provider="openai"), base_url=roost_upstream, api_key="roost_wrong"
    )
    with pytest.raises(ProviderError, match="HTTP 401"):
        await remote_transcribe(wrong_key, FOX.read_bytes(), "fox.wav")
    # The upstream's own 400 (here: pocketsphinx has no French) is reported, not hidden.
    with pytest.raises(ProviderError, match="only an English model"):
        await remote_transcribe(remote(roost_upstream), FOX.read_bytes(), "f.wav", language="fr")


def _json_only_server() -> Starlette:
    """Like gpt-4o-transcribe: verbose_json is refused, plain json answered."""
    seen: list[str] = []

    async def transcriptions(request: Request) -> JSONResponse:
        async with request.form() as form:
            chosen = str(form.get("response_format"))
            seen.append(chosen)
            if chosen == "verbose_json":
                message = "response_format 'verbose_json' is not compatible with this model"
                return JSONResponse({"error": {"message": message}}, status_code=400)
            return JSONResponse({"text": f"heard {form.get('model')} {len(seen)}"})

    app = Starlette(routes=[Route("/v1/audio/transcriptions", transcriptions, methods=["POST"])])
    app.state.seen = seen
    return app


async def test_openai_upstream_without_verbose_json_falls_back_to_json() -> None:
    app = _json_only_server()
    with serve_app(app, lifespan="off") as url:
        provider = remote(url + "/v1", model="gpt-4o-transcribe")
        result = await remote_transcribe(provider, FOX.read_bytes(), "fox.wav")
    assert app.state.seen == ["verbose_json", "json"]
    assert result.text == "heard gpt-4o-transcribe 2"
    assert [(s.start, s.text) for s in result.segments] == [(0.0, result.text)]


def test_openai_speech_api_key_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    settings: Settings = make_settings(
        home, ROOST_SPEECH_PROVIDER="openai", ROOST_SPEECH_API_KEY_ENV="STT_KEY"
    )
    with pytest.raises(ConfigError, match="STT_KEY"):
        build_speech_provider(settings)
    monkeypatch.setenv("STT_KEY", "sk-test")
    provider = build_speech_provider(settings)
    assert isinstance(provider, OpenAISpeechProvider)
    assert provider.base_url == "https://api.openai.com/v1"
    asyncio.run(provider.close())
