"""Read one ConverseStream response: text as it arrives, tool calls assembled, the stop reason.

The events, as boto3 yields them:

- ``messageStart`` {role}
- ``contentBlockStart`` {start: {toolUse: {toolUseId, name}}, contentBlockIndex} (tool calls only;
  a text block starts with its first delta)
- ``contentBlockDelta`` {delta: {text} | {toolUse: {input: <a piece of JSON>}}, contentBlockIndex}
- ``contentBlockStop`` {contentBlockIndex}
- ``messageStop`` {stopReason: end_turn | tool_use | max_tokens | stop_sequence | ...}
- ``metadata`` {usage, metrics}

Errors inside the stream arrive as botocore ``EventStreamError`` while iterating.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ["ModelTurn", "StreamReader"]


@dataclass
class ModelTurn:
    """One model response: its content blocks (as the next request's assistant message wants them)."""

    content: List[Dict[str, Any]] = field(default_factory=list)
    stop_reason: Optional[str] = None
    usage: Dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(block["text"] for block in self.content if "text" in block)

    @property
    def tool_uses(self) -> List[Dict[str, Any]]:
        return [block["toolUse"] for block in self.content if "toolUse" in block]


class StreamReader:
    """Feed events in order; ``feed`` returns text to forward now; ``turn`` is the result."""

    def __init__(self) -> None:
        self._blocks: Dict[int, Dict[str, Any]] = {}
        self.turn = ModelTurn()

    def feed(self, event: Dict[str, Any]) -> str:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            tool = start.get("start", {}).get("toolUse")
            if tool:
                self._blocks[start.get("contentBlockIndex", 0)] = {
                    "toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]},
                    "json": "",
                }
        elif "contentBlockDelta" in event:
            body = event["contentBlockDelta"]
            block = self._blocks.setdefault(body.get("contentBlockIndex", 0), {})
            delta = body.get("delta", {})
            if "text" in delta:
                block["text"] = block.get("text", "") + delta["text"]
                return delta["text"]
            if "toolUse" in delta:
                block["json"] = block.get("json", "") + delta["toolUse"].get("input", "")
        elif "messageStop" in event:
            self.turn.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.turn.usage = event["metadata"].get("usage", {})
        return ""

    def finish(self) -> ModelTurn:
        """The turn's content blocks in index order; a tool call's JSON input parsed."""
        content = []
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if "toolUse" in block:
                tool = dict(block["toolUse"])
                tool["input"] = _parse_input(block.get("json", ""))
                content.append({"toolUse": tool})
            elif block.get("text"):
                content.append({"text": block["text"]})
        self.turn.content = content
        return self.turn


def _parse_input(raw: str) -> Dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        # Passed on as such: the tool answers with an error and the model can try again.
        return {"_invalid_json": raw}
    return value if isinstance(value, dict) else {"value": value}
