"""The code that ships to Lambda: the WebSocket handlers' work (gateway), chat_processor
(processor), the wire protocol, and what they share. The project's exceptions form one
tree, documented in ``chalicelib.errors``."""
