"""Wire schemas of chat requests as the admin API and the CLI accept them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thrifty.pricing.estimate import PricedRequest

#: No model has an output limit near this; anything above is a mistake, not a request.
MAX_TOKENS_CAP = 2_000_000


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class ChatRequestBody(BaseModel):
    """An OpenAI chat request; fields that do not affect the price are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: Annotated[list[Message], Field(min_length=1, max_length=10_000)]
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_CAP)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_CAP)] | None = None
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None

    def priced(self) -> PricedRequest:
        return PricedRequest(
            messages=[m.model_dump(exclude_none=True) for m in self.messages],
            max_tokens=self.max_completion_tokens or self.max_tokens,
            tools=self.tools,
        )
