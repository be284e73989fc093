"""The `[metrics]` section: a listener of its own for Prometheus, off by default."""

from __future__ import annotations

from pydantic import Field

from roost.config.section import _Section


class MetricsSettings(_Section):
    port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve GET /metrics without a key on this port too (0: no such listener; "
        "/metrics on the main port needs the admin key either way)",
    )
    bind: str = Field("127.0.0.1", description="Address of the [metrics] listener")
    allow_remote: bool = Field(
        False,
        description="Allow a [metrics] bind that is not loopback: anyone who reaches it reads "
        "the metrics without a key (keep it on a private network or behind a firewall)",
    )
