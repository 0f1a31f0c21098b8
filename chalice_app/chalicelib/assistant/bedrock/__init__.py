"""The Bedrock assistant (``ASSISTANT_BACKEND=bedrock``): ConverseStream with the catalog tools."""

from chalicelib.assistant.bedrock.assistant import BedrockAssistant

__all__ = ["BedrockAssistant"]
