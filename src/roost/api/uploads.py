"""Multipart uploads: the file goes to a temporary file as it arrives, never whole into
memory, and the body stops being read as soon as it passes the route's bound.

Starlette keeps a part in memory up to 1 MB and then on disk; the BodyLimit middleware
cuts the stream at the bound that `upload_limits` gives these routes. The form is read
inside the route, after the caller is authenticated: an unknown caller cannot make the
server store 100 MB first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from roost.core.errors import InvalidRequest

UPLOAD_PATHS = ("/api/transcription", "/v1/audio/transcriptions")
# Room for the multipart framing and the small text fields around the file.
FRAMING_BYTES = 1_048_576
MAX_FIELD_BYTES = 65_536


def upload_limits(max_file_bytes: int) -> dict[str, int]:
    """BodyLimit overrides: the upload routes take a file of `max_file_bytes`."""
    return {path: max_file_bytes + FRAMING_BYTES for path in UPLOAD_PATHS}


@dataclass
class Upload:
    form: FormData

    def file(self, name: str) -> UploadFile:
        value = self.form.get(name)
        if isinstance(value, UploadFile):
            return value
        if value is None:
            raise InvalidRequest(
                f"Missing required parameter: {name} (send the audio as a multipart/form-data "
                f"file field named '{name}')",
                param=name,
            )
        raise InvalidRequest(f"'{name}' must be a file, not a text field", param=name)

    def text(self, name: str, *, max_chars: int) -> str | None:
        value = self.form.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidRequest(f"'{name}' must be a text field, not a file", param=name)
        if len(value) > max_chars:
            raise InvalidRequest(f"'{name}' is longer than {max_chars} characters", param=name)
        return value

    def texts(self, name: str, *, max_chars: int) -> list[str]:
        values = self.form.getlist(name)
        if any(not isinstance(v, str) or len(v) > max_chars for v in values):
            raise InvalidRequest(f"'{name}' must be short text fields", param=name)
        return [str(v) for v in values]


@asynccontextmanager
async def receive_form(request: Request) -> AsyncIterator[Upload]:
    """The request's form; its files are closed (and deleted) when the block ends."""
    async with request.form(max_files=2, max_fields=20, max_part_size=MAX_FIELD_BYTES) as form:
        yield Upload(form)
