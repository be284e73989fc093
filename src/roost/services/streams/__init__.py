"""Resumable streams: stored turn events, replayed to clients that reconnect."""

from roost.services.streams.recorder import RecordingQueue, StreamRecorder
from roost.services.streams.service import Notifier, StreamService

__all__ = ["Notifier", "RecordingQueue", "StreamRecorder", "StreamService"]
