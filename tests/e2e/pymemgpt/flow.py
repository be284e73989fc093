"""Run by the pymemgpt client's own python (env.py): the MemGPT agent flow through
`memgpt.Admin` and `memgpt.client.client.RESTClient`, printing one JSON line of what the
client saw. Usage: python flow.py BASE_URL ADMIN_PASSWORD
"""

import json
import sys

from memgpt import Admin
from memgpt.client.client import RESTClient


def main(base_url: str, password: str) -> None:
    admin = Admin(base_url, password)
    user = admin.create_user()
    client = RESTClient(base_url, user.api_key)

    agent = client.create_agent(name="pymemgpt_agent")  # asserted the embedding config
    seen = {
        "embedding_config": vars(agent.embedding_config),
        "llm_model": agent.llm_config.model,
        "listed": client.list_agents().num_agents,
        "exists": client.agent_exists(agent.id),
        "got": client.get_agent(agent.id).name,
    }
    client.update_agent_core_memory(str(agent.id), {"human": "First name: Ada"})
    seen["human"] = client.get_agent_memory(agent.id).core_memory.human
    inserted = client.insert_archival_memory(agent.id, "Ada likes green tea.")
    archival = client.get_agent_archival_memory(agent.id)
    seen["archival"] = [m.contents for m in archival.archival_memory]
    reply = client.user_message(str(agent.id), "Hello! What is my name?")
    seen["reply_kinds"] = sorted({key for m in reply.messages for key in m})
    seen["steps"] = reply.usage.step_count
    seen["roles"] = [m["role"] for m in client.get_messages(agent.id).messages]
    seen["renamed"] = client.rename_agent(agent.id, "renamed_agent").name
    client.delete_archival_memory(agent.id, inserted.ids[0])
    client.delete_agent(agent.id)
    seen["after_delete"] = client.agent_exists(agent.id)
    admin.delete_user(user.user_id)
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
