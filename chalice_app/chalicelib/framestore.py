"""A session's kept frames: one small item each in the frames table (hash ``session_id``, range ``cursor``).

A frame's cursor is taken on the session's head (``framelog``) before it is stored here, so a
``PutItem`` with ``attribute_not_exists`` fails only when a resume stored a ``skipped`` frame at
that cursor first; the failed write returns that item (``ReturnValuesOnConditionCheckFailure``).
One write per frame, of one small item, whatever the session's length (a write costs a WCU per
KB of the item written). A resume reads the frames taken before it attached, waiting for any
still being stored.
"""

import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from botocore.exceptions import ClientError

__all__ = ["FrameStore", "REPLAY_PAGE_ITEMS", "lease_wait", "missing_cursors"]

# A resume reads its frames this many at a time, each page when the one before was posted.
REPLAY_PAGE_ITEMS = 100


def lease_wait(attempt: int) -> float:
    """Seconds before trying again for a held ack lease (or a frame being stored): 5 ms doubling to 50 ms."""
    return min(0.005 * (2**attempt), 0.05)


def missing_cursors(after: int, upto: int, stored: Iterable[int], old: Iterable[int] = ()) -> List[int]:
    """The cursors in (after, upto] not stored yet. Cursors below the newest frame older than the
    window (``old``) are not waited for: DynamoDB's TTL may have deleted them, never a writer's store."""
    floor = max([after, *old])
    have = set(stored)
    return [cursor for cursor in range(floor + 1, upto + 1) if cursor not in have]


class FrameStore:
    def __init__(self, table_name: str, ttl_seconds: int, window_seconds: int, client: Callable[[], Any]):
        self.table_name, self.ttl_seconds, self.window_seconds = table_name, ttl_seconds, window_seconds
        self._client = client

    @property
    def client(self) -> Any:
        return self._client()

    def store(self, session_id: str, cursor: int, text: str) -> Optional[str]:
        """Store the frame at the cursor its writer took: None, or the text of the ``skipped`` frame
        a resume stored there first (read from the failed write, ReturnValuesOnConditionCheckFailure)."""
        existing = self._put_frame(session_id, cursor, text)
        return None if existing is None or existing == text else existing

    def _put_frame(self, session_id: str, cursor: int, text: str) -> Optional[str]:
        now = int(time.time())
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "session_id": {"S": session_id},
                    "cursor": {"N": str(cursor)},
                    "frame": {"S": text},
                    "at": {"N": str(now)},
                    "ttl": {"N": str(now + self.ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(#cursor)",
                ExpressionAttributeNames={"#cursor": "cursor"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return (exc.response.get("Item") or {}).get("frame", {}).get("S", "")
        return None

    def replay(
        self, session_id: str, after: int, upto: int, skipped_text: Callable[[int], str], wait_seconds: float
    ) -> List[Tuple[int, str]]:
        """The kept frames in (after, upto] in cursor order, within the resume window. A cursor taken
        but not stored is waited for up to ``wait_seconds``, then ``skipped_text(cursor)`` is stored
        in its place (or what its writer stored meanwhile is read back)."""
        return [
            frame for page in self.replay_pages(session_id, after, upto, skipped_text, wait_seconds) for frame in page
        ]

    def replay_pages(
        self,
        session_id: str,
        after: int,
        upto: int,
        skipped_text: Callable[[int], str],
        wait_seconds: float,
        page_items: int = REPLAY_PAGE_ITEMS,
    ) -> Iterator[List[Tuple[int, str]]]:
        """``replay`` a page of ``page_items`` stored frames at a time, read only when the one before
        was used: a replay that stops early (the client's buffer is full) reads no further."""
        low = after
        while low < upto:
            first, full = self._first_items(session_id, low, upto, page_items)
            high = max(first) if full else upto
            yield self._settled(session_id, low, high, first, skipped_text, wait_seconds)
            low = high

    def _settled(
        self,
        session_id: str,
        after: int,
        upto: int,
        frames: Dict[int, Tuple[int, str]],
        skipped_text: Callable[[int], str],
        wait_seconds: float,
    ) -> List[Tuple[int, str]]:
        """(after, upto] from ``frames`` already read, a gap waited for then filled with a skip."""
        deadline, attempt = time.monotonic() + wait_seconds, 0
        while True:
            oldest = time.time() - self.window_seconds
            old = [cursor for cursor, (at, _) in frames.items() if at < oldest]
            missing = missing_cursors(after, upto, frames, old)
            if not missing:
                return [(cursor, text) for cursor, (at, text) in sorted(frames.items()) if at >= oldest]
            if time.monotonic() > deadline:
                for cursor in missing:
                    skip = skipped_text(cursor)
                    frames[cursor] = (int(time.time()), self._put_frame(session_id, cursor, skip) or skip)
                continue
            time.sleep(lease_wait(attempt))
            attempt += 1
            frames.update(self._kept(session_id, after, upto, set(frames)))

    def _first_items(
        self, session_id: str, after: int, upto: int, limit: int
    ) -> Tuple[Dict[int, Tuple[int, str]], bool]:
        """The first ``limit`` stored frames in (after, upto], and whether more may follow."""
        page = self.client.query(**self._range(session_id, after, upto), Limit=limit)
        items = {int(item["cursor"]["N"]): (int(item["at"]["N"]), item["frame"]["S"]) for item in page["Items"]}
        return items, bool(items) and len(items) >= limit and "LastEvaluatedKey" in page

    def _range(self, session_id: str, after: int, upto: int) -> Dict[str, Any]:
        return dict(
            TableName=self.table_name,
            KeyConditionExpression="session_id = :s AND #cursor BETWEEN :low AND :high",
            ExpressionAttributeNames={"#cursor": "cursor"},
            ExpressionAttributeValues={
                ":s": {"S": session_id},
                ":low": {"N": str(after + 1)},
                ":high": {"N": str(max(upto, after + 1))},
            },
            ConsistentRead=True,
        )

    def _kept(self, session_id: str, after: int, upto: int, known: set) -> Dict[int, Tuple[int, str]]:
        """cursor -> (stored_at, text) of the stored frames in (after, upto] (consistent Queries)."""
        kept, start = {}, None
        while True:
            page = self.client.query(
                **self._range(session_id, after, upto), **({"ExclusiveStartKey": start} if start else {})
            )
            for item in page["Items"]:
                cursor = int(item["cursor"]["N"])
                if cursor not in known and cursor <= upto:
                    kept[cursor] = (int(item["at"]["N"]), item["frame"]["S"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return kept
