"""Who the model work in this context is for: the user whose request or turn it serves.

Set where a caller is known (authentication, a turn's task); read by what shares a scarce
resource between users (a local model's slots). A context variable, so tasks started
for a request inherit it and a background worker sets it per item.
"""

from __future__ import annotations

from contextvars import ContextVar

current: ContextVar[str] = ContextVar("roost_requester", default="")
