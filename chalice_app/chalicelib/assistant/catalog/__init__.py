"""The embedded catalog assistant (``ASSISTANT_BACKEND=catalog``): rules over the catalog, no model."""

from chalicelib.assistant.catalog.assistant import Answer, CatalogAssistant

__all__ = ["Answer", "CatalogAssistant"]
