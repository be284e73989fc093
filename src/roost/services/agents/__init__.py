"""MemGPT-style agents: core memory, recall and archival memory, the heartbeat loop."""

from roost.services.agents.service import AgentBusy, AgentConfig, AgentService, AgentTurn, AgentView

__all__ = ["AgentBusy", "AgentConfig", "AgentService", "AgentTurn", "AgentView"]
