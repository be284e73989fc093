"""/api/humans, /api/personas, /api/presets and /api/tools.

The caller's own items over roost's built-ins (sam_pov, cs_phd, basic, memgpt_chat, the
MemGPT functions). POST /api/tools stores a registration (name, JSON schema, tags, source)
so that clients which post tool source can proceed: roost never executes the source.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from roost.api import docs
from roost.api.deps import PrincipalDep, ServicesDep
from roost.api.memgpt.render import preset_out, text_item_out, tool_out
from roost.api.memgpt.schemas import (
    Humans,
    Message,
    Personas,
    Preset,
    PresetCreated,
    Presets,
    TextItem,
    Tool,
    Tools,
)
from roost.core.errors import InvalidRequest

router = APIRouter(prefix="/api", tags=["memgpt"])

Name = Annotated[str, Path(max_length=100)]
_TEXT = 20_000


class TextItemBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=100)
    text: StrictStr = Field(max_length=_TEXT)


class PresetBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=100)
    description: StrictStr | None = Field(None, max_length=2000)
    system: StrictStr | None = Field(None, max_length=_TEXT)
    system_name: StrictStr | None = Field(None, max_length=100)
    persona: StrictStr | None = Field(None, max_length=_TEXT)
    persona_name: StrictStr | None = Field(None, max_length=100)
    human: StrictStr | None = Field(None, max_length=_TEXT)
    human_name: StrictStr | None = Field(None, max_length=100)
    functions_schema: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


class ToolBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    json_schema: dict[str, Any]
    source_code: StrictStr | None = Field(None, max_length=100_000)
    source_type: StrictStr | None = Field("python", max_length=50)
    tags: list[StrictStr] | None = Field(None, max_length=50)
    update: StrictBool = False


def _text_routes(kind: str, plural: str, listed: type[Humans | Personas]) -> None:
    @router.get(f"/{plural}", name=f"list_{plural}", response_model=None, responses=docs.ok(listed))
    async def list_items(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
        items = await services.agents.library.list(principal.user, kind)
        return {plural: [text_item_out(i) for i in items]}

    @router.post(
        f"/{plural}", name=f"create_{kind}", response_model=None, responses=docs.ok(TextItem)
    )
    async def create_item(
        body: TextItemBody, services: ServicesDep, principal: PrincipalDep
    ) -> dict[str, Any]:
        item = await services.agents.library.put(
            principal.user, kind, body.name, {"text": body.text}, replace=True
        )
        return text_item_out(item)

    @router.get(
        f"/{plural}/{{name}}", name=f"get_{kind}", response_model=None, responses=docs.ok(TextItem)
    )
    async def get_item(
        name: Name, services: ServicesDep, principal: PrincipalDep
    ) -> dict[str, Any]:
        return text_item_out(await services.agents.library.get(principal.user, kind, name))

    @router.delete(
        f"/{plural}/{{name}}",
        name=f"delete_{kind}",
        response_model=None,
        responses=docs.ok(TextItem),
    )
    async def delete_item(
        name: Name, services: ServicesDep, principal: PrincipalDep
    ) -> dict[str, Any]:
        return text_item_out(await services.agents.library.delete(principal.user, kind, name))


_text_routes("human", "humans", Humans)
_text_routes("persona", "personas", Personas)


@router.get("/presets", response_model=None, responses=docs.ok(Presets))
async def list_presets(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    items = await services.agents.library.list(principal.user, "preset")
    return {"presets": [preset_out(i) for i in items]}


@router.get("/presets/{name}", response_model=None, responses=docs.ok(Preset))
async def get_preset(name: Name, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    return preset_out(await services.agents.library.get(principal.user, "preset", name))


@router.post("/presets", response_model=None, responses=docs.ok(PresetCreated))
async def create_preset(
    body: PresetBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    library = services.agents.library
    base = (await library.get(principal.user, "preset", "memgpt_chat")).data
    data = {
        "description": body.description,
        "system": body.system or base["system"],
        "system_name": body.system_name,
        "persona": body.persona if body.persona is not None else base["persona"],
        "persona_name": body.persona_name,
        "human": body.human if body.human is not None else base["human"],
        "human_name": body.human_name,
        "functions_schema": body.functions_schema,
    }
    item = await library.put(principal.user, "preset", body.name, data, replace=False)
    return {"preset": preset_out(item)}


@router.delete("/presets/{preset_id}", response_model=None, responses=docs.ok(Message))
async def delete_preset(
    preset_id: Name, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    await services.agents.library.delete(principal.user, "preset", preset_id)
    return {"message": f"Preset preset_id={preset_id} successfully deleted"}


@router.get("/tools", response_model=None, responses=docs.ok(Tools))
async def list_tools(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    items = await services.agents.library.list(principal.user, "tool")
    return {"tools": [tool_out(i) for i in items]}


@router.get("/tools/{name}", response_model=None, responses=docs.ok(Tool))
async def get_tool(name: Name, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    return tool_out(await services.agents.library.get(principal.user, "tool", name))


@router.post("/tools", response_model=None, responses=docs.ok(Tool))
async def create_tool(
    body: ToolBody, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    name = body.json_schema.get("name")
    if not isinstance(name, str):
        raise InvalidRequest("json_schema.name must name the tool", param="json_schema")
    if len(str(body.json_schema)) > 50_000:
        raise InvalidRequest("json_schema is larger than 50,000 characters", param="json_schema")
    data = {
        "tags": body.tags or [],
        "source_type": body.source_type,
        "source_code": body.source_code,  # kept to show back; never executed
        "module": None,
        "json_schema": body.json_schema,
    }
    item = await services.agents.library.put(
        principal.user, "tool", name, data, replace=body.update
    )
    return tool_out(item)


@router.delete(
    "/tools/{name}",
    responses={
        200: {
            "description": "Deleted; the body is JSON null",
            "content": {"application/json": {"schema": {"type": "null"}}},
        }
    },
)
async def delete_tool(name: Name, services: ServicesDep, principal: PrincipalDep) -> None:
    await services.agents.library.delete(principal.user, "tool", name)
