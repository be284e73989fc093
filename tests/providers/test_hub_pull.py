"""hub.pull against a local fake Hub (tests/hubserver.py): names, quant choice, resume,
verification, cancel and the errors, in-process. The CLI's own tests are in tests/cli."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.core.errors import Forbidden, InvalidRequest, ModelNotFound, ProviderError, Unavailable
from roost.providers import gguf_info
from roost.providers.llamacpp import embedded_model_path
from roost.providers.store import hub, names
from roost.providers.store.manifest import ModelStore
from roost.providers.store.progress import PullProgress
from tests.conftest import free_port
from tests.hubserver import TOKEN, FakeHub, hub_in_env, make_split

MODEL = embedded_model_path()
SIZE = MODEL.stat().st_size
Q4_1 = "test/smollm2-gguf/SmolLM2-135M-Instruct-Q4_1.gguf"


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_split(MODEL, tmp_path_factory.mktemp("split"))


@pytest.fixture
def fake(split: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with hub_in_env(MODEL, split, tmp_path / "hf-home", monkeypatch) as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


class Events(list[PullProgress]):
    def __call__(self, event: PullProgress) -> None:
        self.append(event)

    def messages(self) -> list[str]:
        return [e.message for e in self if e.message]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Names -------------------------------------------------------------------------------


def test_names_accepted_and_normalised() -> None:
    parsed = names.parse("huggingface.co/bartowski/SmolLM2-135M-Instruct-GGUF:q4_k_m")
    assert parsed.name == "hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:q4_k_m"
    assert (parsed.repo, parsed.quant, parsed.file) == (
        "bartowski/SmolLM2-135M-Instruct-GGUF",
        "q4_k_m",
        None,
    )
    assert names.parse("hf.co/o/r").quant is None
    named = names.parse("o/r/Q4_K_M/m-Q4_K_M-00001-of-00002.gguf")
    assert (named.repo, named.file) == ("o/r", "Q4_K_M/m-Q4_K_M-00001-of-00002.gguf")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "smollm2",
        "hf.co/only-owner",
        "hf.co/o/r:",
        "hf.co/o/r:Q4 K",
        "hf.co/../r:Q4_0",
        "o/r/../../etc/passwd.gguf",
        "o/r/model.bin",
        "ollama.com/library/llama3",
        "hf.co/o/" + "r" * 200,
        "hf.co/o/r:" + "Q" * 41,
        "o/r/" + "m" * 400 + ".gguf",
    ],
)
def test_names_refused(name: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        names.parse(name)
    assert "\n" not in caught.value.message


def test_quant_matching_is_ollamas_rule() -> None:
    assert names.carries("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1")
    assert names.carries("smollm2-135m-instruct-q4_1.gguf", "Q4_1")
    assert not names.carries("model-Q4_1_4_4.gguf", "Q4_1")
    assert not names.carries("model-IQ4_XS.gguf", "Q4_XS")
    assert not names.carries("model-Q4_K_M.gguf", "Q4_K")
    assert names.label("Q4_K_M/model-Q4_K_M-00001-of-00002.gguf") == "Q4_K_M"
    assert names.label("model.IQ4_XS.gguf") == "IQ4_XS"
    files = [
        "README.md",
        "mmproj-model-f16.gguf",
        "model-Q8_0.gguf",
        "model-Q4_0.gguf",
        "Q5_K_M/model-Q5_K_M-00001-of-00002.gguf",
        "Q5_K_M/model-Q5_K_M-00002-of-00002.gguf",
    ]
    assert names.models(files) == [
        "model-Q8_0.gguf",
        "model-Q4_0.gguf",
        "Q5_K_M/model-Q5_K_M-00001-of-00002.gguf",
    ]
    assert names.quantizations(files) == ["Q4_0", "Q5_K_M", "Q8_0"]
    # No Q4_K_M: the first of Q4_K_S, Q4_0, Q5_K_M, Q8_0 the repo has.
    assert names.choose(files, None) == ("model-Q4_0.gguf", "Q4_0")
    assert names.choose(files, "q5_k_m") == ("Q5_K_M/model-Q5_K_M-00001-of-00002.gguf", None)
    assert names.parts("Q5_K_M/model-Q5_K_M-00002-of-00002.gguf", files) == files[4:]
    assert names.choose(["a-Q6_K.gguf"], None) == ("a-Q6_K.gguf", "Q6_K")  # the only one
    assert names.choose(["a-Q6_K.gguf", "b-Q6_K.gguf"], None) == (None, None)
    with pytest.raises(InvalidRequest, match="matches 2 files"):
        names.choose(["a-Q6_K.gguf", "b-Q6_K.gguf"], "Q6_K")


# Pulls -------------------------------------------------------------------------------


def test_pull_verifies_and_adds_to_the_manifest(fake: FakeHub, store: ModelStore) -> None:
    events = Events()
    model = hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=events)
    assert model.name == "hf.co/test/smollm2-gguf:Q4_1"
    assert (model.repo, model.quantization, model.endpoint) == (
        "test/smollm2-gguf",
        "Q4_1",
        fake.url,
    )
    assert model.revision == fake.repos["test/smollm2-gguf"].commit
    path = store.model_path(model)
    assert path == store.root / "hf/test/smollm2-gguf/SmolLM2-135M-Instruct-Q4_1.gguf"
    assert path.stat().st_size == SIZE
    assert sha256(path) == fake.sha256("test/smollm2-gguf", "SmolLM2-135M-Instruct-Q4_1.gguf")
    assert ModelStore(store.root).get(model.name) == model  # read back from the file
    assert not list(path.parent.glob("*.incomplete"))
    statuses = [e.status for e in events]
    assert statuses[0] == "resolving"
    assert statuses[-1] == "success"
    downloads = [e for e in events if e.status == "downloading"]
    assert downloads[-1].completed == downloads[-1].total == SIZE
    assert downloads[-1].digest == f"sha256:{model.files[0].sha256}"
    assert "verifying" in statuses
    assert fake.served[Q4_1] == SIZE


def test_pulled_again_is_up_to_date(fake: FakeHub, store: ModelStore) -> None:
    hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=Events())
    events = Events()
    hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=events)
    assert "hf.co/test/smollm2-gguf:Q4_1 is up to date" in events.messages()
    assert len(fake.resolves(Q4_1)) == 1
    assert fake.served[Q4_1] == SIZE
    # Another name for the same file: hashed where it lies, not downloaded again.
    other = hub.pull(
        "test/smollm2-gguf/SmolLM2-135M-Instruct-Q4_1.gguf", store, on_progress=Events()
    )
    assert other.files == store.models()["hf.co/test/smollm2-gguf:Q4_1"].files
    assert fake.served[Q4_1] == SIZE


def test_default_quant_is_said(fake: FakeHub, store: ModelStore) -> None:
    events = Events()
    model = hub.pull("hf.co/test/smollm2-gguf", store, on_progress=events)
    assert "no quantization given: using Q8_0 (the repo has no Q4_K_M)" in events.messages()
    assert model.quantization == "Q8_0"
    assert model.name == "hf.co/test/smollm2-gguf"
    assert store.model_path(model).name == "SmolLM2-135M-Instruct-Q8_0.gguf"


def test_a_dropped_connection_resumes_in_the_same_pull(fake: FakeHub, store: ModelStore) -> None:
    fake.cut_after[Q4_1] = SIZE // 2
    model = hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=Events())
    gets = fake.resolves(Q4_1)
    assert [(g.start, g.sent) for g in gets] == [(0, SIZE // 2), (SIZE // 2, SIZE - SIZE // 2)]
    assert sha256(store.model_path(model)) == model.files[0].sha256


def test_cancel_keeps_the_partial_file_and_the_next_pull_resumes(
    fake: FakeHub, store: ModelStore
) -> None:
    fake.pace[Q4_1] = 0.02  # 50 MB/s: progress is reported a few times on the way
    cancel = threading.Event()

    def on_progress(event: PullProgress) -> None:
        if event.status == "downloading" and (event.completed or 0) >= SIZE // 3:
            cancel.set()

    with pytest.raises(hub.PullCancelled):
        hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=on_progress, cancel=cancel)
    assert store.get("hf.co/test/smollm2-gguf:Q4_1") is None
    folder = store.root / "hf/test/smollm2-gguf"
    (partial,) = folder.glob("*.incomplete")
    kept = partial.stat().st_size
    assert SIZE // 3 <= kept < SIZE

    fake.pace.clear()
    model = hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=Events())
    second = fake.resolves(Q4_1)[-1]
    assert (second.start, second.sent) == (kept, SIZE - kept)  # only the rest was asked for
    assert sha256(store.model_path(model)) == model.files[0].sha256
    assert not list(folder.glob("*.incomplete"))


def test_a_corrupted_download_is_deleted_and_not_added(fake: FakeHub, store: ModelStore) -> None:
    fake.corrupt.add(Q4_1)
    with pytest.raises(ProviderError) as caught:
        hub.pull("hf.co/test/smollm2-gguf:Q4_1", store, on_progress=Events())
    assert "failed verification" in caught.value.message
    assert store.models() == {}
    assert list((store.root / "hf/test/smollm2-gguf").glob("SmolLM2*")) == []


def test_a_split_gguf_pulls_every_part(fake: FakeHub, store: ModelStore, split: list[Path]) -> None:
    model = hub.pull("hf.co/test/smollm2-split-gguf:q4_1", store, on_progress=Events())
    assert [Path(f.path).name for f in model.files] == [p.name for p in split]
    for stored, part in zip(model.files, split, strict=True):
        assert sha256(store.file_path(stored)) == sha256(part)
    info = gguf_info.read(store.model_path(model))
    assert len(info.files) == 3
    assert info.architecture == "llama"


def test_errors_are_one_line_each(
    fake: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(name: str) -> str:
        with pytest.raises(Exception) as caught:  # noqa: PT011  # the type is checked below
            hub.pull(name, store, on_progress=Events())
        message = str(caught.value)
        assert "\n" not in message
        kinds[name] = type(caught.value)
        return message

    kinds: dict[str, type] = {}
    assert fails("hf.co/test/absent:Q4_1") == (
        f"no model hf.co/test/absent on {fake.url}: the repository does not exist; "
        "a private repo needs HF_TOKEN"
    )
    assert fails("hf.co/test/smollm2-gguf:Q6_K") == (
        "hf.co/test/smollm2-gguf has no Q6_K quantization; it has: IQ4_XS, Q4_1, Q8_0"
    )
    assert fails("test/smollm2-gguf/absent.gguf").startswith("no file absent.gguf in")
    assert "is gated" in fails("hf.co/test/gated-gguf")
    assert kinds["hf.co/test/absent:Q4_1"] is ModelNotFound
    assert kinds["hf.co/test/gated-gguf"] is Forbidden
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    offline = fails("hf.co/test/smollm2-gguf:Q4_1")
    assert offline.startswith("cannot reach http://127.0.0.1:")
    assert offline.endswith("(offline?)")
    assert kinds["hf.co/test/smollm2-gguf:Q4_1"] is Unavailable
    assert store.models() == {}


def test_hf_token_opens_a_gated_repo(
    fake: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    model = hub.pull("hf.co/test/gated-gguf", store, on_progress=Events())
    assert model.quantization == "Q4_K_M"
    key = "test/gated-gguf/SmolLM2-135M-Instruct-Q4_K_M.gguf"
    assert {r.authorization for r in fake.requests if r.path == key} == {f"Bearer {TOKEN}"}
