"""The settings reference: one row per setting, the source of docs/configuration.md's table."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from roost.config import ModelSettings, Settings, _Section


def reference() -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every setting: the source of the docs table."""
    rows: list[tuple[str, str, str, str]] = []
    defaults = Settings(home=Path("~/.roost"))

    def walk(model: type[BaseModel], value: BaseModel, prefix: str) -> None:
        for key, info in model.model_fields.items():
            current = getattr(value, key)
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, _Section):
                walk(annotation, current, f"{prefix}{key}.")
                continue
            if key == "models":
                walk(ModelSettings, ModelSettings(), "models.<name>.")
                continue
            type_name = getattr(annotation, "__name__", str(annotation)).replace("typing.", "")
            shown = str(current) if isinstance(current, Path) else repr(current)
            rows.append((prefix + key, type_name, shown, info.description or ""))

    walk(Settings, defaults, "")
    return rows


def reference_table() -> str:
    """The markdown table of every setting that docs/configuration.md carries."""
    lines = ["| key | type | default | what it does |", "|---|---|---|---|"]
    lines += [
        f"| `{k}` | {_cell(t)} | `{_cell(d)}` | {_cell(desc)} |" for k, t, d, desc in reference()
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A table cell: a `|` (as in `str | None`) would start a new column."""
    return text.replace("|", "\\|")
