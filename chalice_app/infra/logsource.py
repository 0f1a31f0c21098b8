"""Where ``infra.timeline`` gets its lines: the local runtime's files, or CloudWatch Logs.

- ``LocalLogs``: the JSON-lines files the local runtime writes, one per function
  (``logs/aws-lambda-<app>-<stage>-<function>.jsonl``); ``read()`` returns the lines
  written since the last call (whole lines only), so a page that polls reads each once.
- ``cloudwatch_entries``: ``FilterLogEvents`` on the stage's four log groups
  (``/aws/lambda/<app>-<stage>-<function>``), every page (the API returns at most 1 MB
  or 10,000 events per call and a ``nextToken`` while more match), optionally narrowed
  by a filter pattern such as ``"<message id>"`` (a quoted term: the events that contain it).
"""

import glob
import os
from typing import Dict, List, Mapping, Optional

from infra.timeline import Entry, function_of, parse_line

__all__ = ["LocalLogs", "cloudwatch_entries", "term_pattern"]


def term_pattern(term: str) -> str:
    """A CloudWatch Logs filter pattern matching the events that contain ``term``: quoted,
    because terms with non-alphanumeric characters (a UUID's ``-``) must be."""
    return '"' + term.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LocalLogs:
    """The local runtime's log files in ``directory``, read incrementally."""

    def __init__(self, directory: str):
        self.directory = directory
        self.pattern = os.path.join(directory, "*.jsonl")  # one per function, named after its log group
        self._offsets: Dict[str, int] = {}

    def read(self) -> List[Entry]:
        """The lines added to every file since the last read (all of them the first time)."""
        entries: List[Entry] = []
        for path in sorted(glob.glob(self.pattern)):
            function = function_of(path)
            with open(path, "rb") as handle:
                handle.seek(self._offsets.get(path, 0))
                data = handle.read()
            end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
            self._offsets[path] = self._offsets.get(path, 0) + end
            for raw in data[:end].decode("utf-8", errors="replace").splitlines():
                if raw.strip():
                    entries.append(parse_line(function, raw))
        return entries


def cloudwatch_entries(
    logs_client,
    log_groups: Mapping[str, str],
    start_ms: int,
    end_ms: Optional[int] = None,
    filter_pattern: Optional[str] = None,
    max_events: int = 100_000,
    page_size: Optional[int] = None,
) -> List[Entry]:
    """The log events from ``start_ms`` of ``log_groups`` (``{function: log group}``, e.g. from
    ``StageConfig.log_group``), read with ``FilterLogEvents``, all pages. A log group that does
    not exist yet (a function never invoked) has no lines."""
    entries: List[Entry] = []
    for function, group in log_groups.items():
        arguments = {"logGroupName": group, "startTime": int(start_ms)}
        if end_ms is not None:
            arguments["endTime"] = int(end_ms)
        if filter_pattern:
            arguments["filterPattern"] = filter_pattern
        try:
            pages = logs_client.get_paginator("filter_log_events").paginate(
                **arguments, PaginationConfig={"PageSize": page_size} if page_size else {}
            )
            for page in pages:
                for event in page.get("events", []):
                    entries.append(parse_line(function, event.get("message", ""), event.get("timestamp")))
                if len(entries) >= max_events:
                    return entries
        except logs_client.exceptions.ResourceNotFoundException:
            continue
    return entries
