"""Structured log lines: one JSON object per event, searchable in CloudWatch.

The message itself is JSON, so it stays structured whatever formatter the
Lambda runtime (or the local runtime) puts around it.
"""

import json
import logging
from typing import Any

__all__ = ["emit", "setup"]

PACKAGE_LOGGER = "chalicelib"


def setup(level: int = logging.INFO) -> None:
    """Let INFO events through; the Lambda runtime's root logger defaults to WARNING."""
    logging.getLogger(PACKAGE_LOGGER).setLevel(level)


def emit(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    fields = {key: value for key, value in fields.items() if value is not None}
    logger.log(level, json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))
