"""chat.nvim's inbox: a durable per-session queue, its delivery worker, the session preview."""

from roost.services.inbox.preview import PreviewService, SessionPreview
from roost.services.inbox.service import InboxService
from roost.services.inbox.worker import InboxWorker

__all__ = ["InboxService", "InboxWorker", "PreviewService", "SessionPreview"]
