"""Chat templates: the GGUF's own Jinja template, rendered the way Hugging Face does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from roost.providers.base import ChatMessage

# Used when a GGUF carries no template: ChatML, which most small instruct models speak.
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Turn terminators that some templates emit as text rather than as the EOS token.
_END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


@dataclass
class ChatTemplate:
    source: str
    bos_token: str
    eos_token: str

    def __post_init__(self) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._compiled = env.from_string(self.source)

    @classmethod
    def from_llama(cls, llm: Any) -> ChatTemplate:
        metadata: dict[str, str] = getattr(llm, "metadata", {}) or {}
        source = metadata.get("tokenizer.chat_template") or CHATML

        def token_text(token_id: int) -> str:
            if token_id < 0:
                return ""
            return bytes(llm.detokenize([token_id], special=True)).decode("utf-8", "replace")

        return cls(source, token_text(llm.token_bos()), token_text(llm.token_eos()))

    @property
    def stop(self) -> list[str]:
        markers = [m for m in _END_MARKERS if m in self.source]
        if self.eos_token and self.eos_token not in markers:
            markers.append(self.eos_token)
        return markers

    def end_tokens(self, llm: Any) -> set[int]:
        """Token ids that end a turn: EOS plus any single-token end marker."""
        ids = {int(llm.token_eos())}
        for marker in self.stop:
            encoded = llm.tokenize(marker.encode("utf-8"), add_bos=False, special=True)
            if len(encoded) == 1:
                ids.add(int(encoded[0]))
        return ids

    def render(self, messages: list[ChatMessage], *, add_generation_prompt: bool) -> str:
        return str(
            self._compiled.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        )
