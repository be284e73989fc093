"""Pull a GGUF model from the Hugging Face Hub (or `HF_ENDPOINT`) into the model store.

`pull` is synchronous: the CLI runs it in its main thread (Ctrl-C stops it), the HTTP route
in a child process. It asks the Hub for the repo's files (size and LFS SHA-256 of each),
picks the model the name means, downloads its file(s) with resume (download.py), verifies
each against the Hub's SHA-256 and only then adds the model to the manifest. Every failure
a user can cause or meet is a roost error with one line saying what happened.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from roost.core.errors import (
    Forbidden,
    InvalidRequest,
    ModelNotFound,
    RoostError,
    Unavailable,
)
from roost.providers.store import download, names
from roost.providers.store.manifest import ModelStore, StoredFile, StoredModel
from roost.providers.store.progress import OnProgress, PullProgress

PUBLIC_HUB = "https://huggingface.co"
REPORT_EVERY = 0.1  # seconds between two "downloading" events of a file


class PullCancelled(RoostError):
    """The pull's `cancel` event was set; the partial file stays for the next pull."""

    code = "cancelled"


@dataclass(frozen=True, slots=True)
class _Remote:
    path: str  # in the repo
    size: int
    sha256: str


def endpoint() -> str:
    """The Hub pulls talk to: `HF_ENDPOINT` as it is now (huggingface_hub reads it once,
    at import; a long-running server must see a change made for its children)."""
    return (os.environ.get("HF_ENDPOINT") or PUBLIC_HUB).rstrip("/")


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or None  # else huggingface_hub's own login, if any


def _hub_error(exc: Exception, what: str, hub: str, file: str | None = None) -> RoostError:
    """One line for what the Hub (or the network) said."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        if _token():
            return Forbidden(
                f"{what} is gated and the token in HF_TOKEN has no access to it: accept its "
                f"terms on {hub} with that account"
            )
        return Forbidden(
            f"{what} is gated: accept its terms on {hub}, then set HF_TOKEN to a token of "
            "that account"
        )
    if isinstance(exc, RepositoryNotFoundError):
        private = "" if _token() else "; a private repo needs HF_TOKEN"
        return ModelNotFound(f"no model {what} on {hub}: the repository does not exist{private}")
    if isinstance(exc, RemoteEntryNotFoundError | RevisionNotFoundError):
        return ModelNotFound(f"no {file or 'such revision'} in {what} on {hub}")
    if isinstance(exc, OfflineModeIsEnabled):
        return Unavailable(f"cannot pull {what}: HF_HUB_OFFLINE is set (offline mode)")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        if status == 403:
            return Forbidden(f"{hub} refused {what} (403): the token has no access to it")
        return Unavailable(f"{hub} answered {status} for {what}; try again later")
    if isinstance(exc, httpx2.TransportError):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Unavailable(f"cannot reach {hub}: {reason} (offline?)")
    return Unavailable(f"pulling {what} from {hub} failed: {exc}")


def _is_hub_error(exc: Exception) -> bool:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    return isinstance(exc, HfHubHTTPError | OfflineModeIsEnabled | httpx2.TransportError)


def _listing(repo: str, hub: str, what: str) -> tuple[str, dict[str, _Remote | None]]:
    """The repo's commit and its files: path → size and SHA-256 (None: not an LFS file)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=hub).model_info(repo, files_metadata=True, token=_token())
    except Exception as exc:
        if _is_hub_error(exc):
            raise _hub_error(exc, what, hub) from None
        raise
    files: dict[str, _Remote | None] = {}
    for sibling in info.siblings or []:
        lfs = sibling.lfs
        files[sibling.rfilename] = (
            _Remote(sibling.rfilename, int(lfs.size), str(lfs.sha256).lower()) if lfs else None
        )
    if not info.sha:
        raise Unavailable(f"{hub} named no commit for {what}; is HF_ENDPOINT a Hub?")
    return info.sha, files


def _plan(
    wanted: names.PullName, files: dict[str, _Remote | None], what: str, hub: str
) -> tuple[list[_Remote], str | None, str | None]:
    """The files to pull, their quantization, and the quant chosen when none was given."""
    paths = list(files)
    default: str | None = None
    if wanted.file is not None:
        lowered = {p.lower(): p for p in paths}
        chosen = lowered.get(wanted.file.lower())
        if chosen is None:
            raise ModelNotFound(f"no file {wanted.file} in {wanted.repo} on {hub}")
    else:
        found, default = names.choose(paths, wanted.quant)
        if found is None:
            have = names.quantizations(paths)
            if not names.models(paths):
                raise ModelNotFound(f"{what} has no GGUF files on {hub}")
            if wanted.quant is not None:
                raise ModelNotFound(
                    f"{what} has no {wanted.quant} quantization; it has: {', '.join(have)}"
                )
            raise InvalidRequest(
                f"{what} has several GGUF models and none of {', '.join(names.DEFAULT_ORDER)}: "
                f"name one, e.g. hf.co/{wanted.repo}:{have[0] if have else 'Q4_K_M'} "
                f"(it has: {', '.join(have)})",
                "name",
            )
        chosen = found
    remotes: list[_Remote] = []
    for part in names.parts(chosen, paths):
        if part not in files:
            raise ModelNotFound(f"{what}: the split GGUF's part {part} is not in the repo")
        remote = files[part]
        if remote is None:
            raise Unavailable(f"{part} in {wanted.repo} has no SHA-256 on {hub}: cannot verify it")
        _check_path(part)
        remotes.append(remote)
    quant = names.label(chosen) or (wanted.quant.upper() if wanted.quant else None)
    return remotes, quant, default


def _check_path(path: str) -> None:
    parts = PurePosixPath(path).parts
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise InvalidRequest(f"the Hub named an unsafe file path: {path!r}")


def _bar_class(
    on_progress: OnProgress, remote: _Remote, cancel: threading.Event | None
) -> type[Any]:
    """What http_get takes for a tqdm class: reports bytes as PullProgress, and is where a
    cancel is noticed (http_get updates it after every chunk)."""
    digest = f"sha256:{remote.sha256}"

    class Bar:
        def __init__(self, *, total: int | None = None, initial: int = 0, **_: Any) -> None:
            self.n = initial
            self._reported = -1.0
            self._report()

        def _report(self) -> None:
            self._reported = time.monotonic()
            on_progress(PullProgress("downloading", remote.path, remote.size, self.n, digest))

        def update(self, n: int = 1) -> None:
            # Called for every read (64 KB): the cancel is noticed at once, progress is
            # reported a few times a second.
            if cancel is not None and cancel.is_set():
                raise PullCancelled(f"pull of {remote.path} cancelled")
            self.n += n
            if time.monotonic() - self._reported >= REPORT_EVERY or self.n >= remote.size:
                self._report()

        def close(self) -> None:
            pass

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

    return Bar


def _up_to_date(store: ModelStore, stored: StoredFile) -> bool:
    """The file is in place, and a manifest entry vouches for its content (it was
    verified when it was added)."""
    path = store.file_path(stored)
    try:
        if path.stat().st_size != stored.size:
            return False
    except OSError:
        return False
    return any(stored in m.files for m in store.models().values())


def _fetch_one(
    store: ModelStore,
    repo: str,
    revision: str,
    remote: _Remote,
    hub: str,
    on_progress: OnProgress,
    cancel: threading.Event | None,
) -> StoredFile:
    from huggingface_hub import hf_hub_url

    rel = f"hf/{repo}/{remote.path}"
    stored = StoredFile(rel, remote.size, remote.sha256)
    digest = f"sha256:{remote.sha256}"
    target = store.file_path(stored)
    if _up_to_date(store, stored):
        return stored
    target.parent.mkdir(parents=True, exist_ok=True)
    with download.exclusive(target):
        if target.exists():  # pulled under another name, or by an interrupted pull
            on_progress(PullProgress("verifying", remote.path, remote.size, None, digest))
            if target.stat().st_size == remote.size and download.sha256_of(target) == remote.sha256:
                return stored
            target.unlink()
        if cancel is not None and cancel.is_set():
            raise PullCancelled(f"pull of {remote.path} cancelled")
        url = hf_hub_url(repo, remote.path, revision=revision, endpoint=hub)
        try:
            download.fetch(
                url=url,
                target=target,
                size=remote.size,
                sha256=remote.sha256,
                token=_token(),
                endpoint=hub,
                bar=_bar_class(on_progress, remote, cancel),
            )
        except RoostError:
            raise
        except Exception as exc:
            if _is_hub_error(exc):
                raise _hub_error(exc, f"hf.co/{repo}", hub, remote.path) from None
            if isinstance(exc, OSError):  # a full disk; a size the server did not keep to
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise Unavailable(f"pulling {remote.path} failed: {first}") from None
            raise
        on_progress(PullProgress("verifying", remote.path, remote.size, remote.size, digest))
    return stored


def pull(
    name: str,
    store: ModelStore,
    *,
    on_progress: OnProgress,
    cancel: threading.Event | None = None,
) -> StoredModel:
    """Pull `name` into `store` and add it to the manifest; the stored model. A model whose
    files are already there and verified is left as it is ("up to date")."""
    wanted = names.parse(name)
    hub = endpoint()
    what = f"hf.co/{wanted.repo}"
    on_progress(PullProgress("resolving", message=f"asking {hub} about {wanted.repo}"))
    revision, files = _listing(wanted.repo, hub, what)
    remotes, quant, default = _plan(wanted, files, what, hub)
    if default is not None:
        message = f"no quantization given: using {default}"
        if default != names.DEFAULT_QUANT:
            message += f" (the repo has no {names.DEFAULT_QUANT})"
        on_progress(PullProgress("resolving", message=message))
    planned = tuple(StoredFile(f"hf/{wanted.repo}/{r.path}", r.size, r.sha256) for r in remotes)
    existing = store.get(wanted.name)
    if (
        existing is not None
        and existing.files == planned
        and all(_up_to_date(store, f) for f in planned)
    ):
        if existing.revision != revision:
            existing = replace(existing, revision=revision)
            store.add(existing)
        on_progress(PullProgress("success", message=f"{wanted.name} is up to date"))
        return existing
    stored = tuple(
        _fetch_one(store, wanted.repo, revision, r, hub, on_progress, cancel) for r in remotes
    )
    model = StoredModel(
        name=wanted.name,
        repo=wanted.repo,
        revision=revision,
        quantization=quant,
        files=stored,
        endpoint=hub if hub != PUBLIC_HUB else None,
    )
    store.add(model)
    on_progress(PullProgress("success", message=f"pulled {wanted.name}"))
    return model
