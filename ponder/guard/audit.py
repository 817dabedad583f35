"""The operator's record of every guard action, without the flagged text in clear.

One JSON line per action: when, which stage, which category, the score, what was done, and a keyed
hash of the text (HMAC-SHA256 with a per-installation secret), so an operator can tell repeats apart
and match a complaint to a record without the log becoming a collection of harmful requests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    time: float
    stage: str
    category: str
    score: float
    action: str
    guard: str
    text_hmac: str
    chars: int


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        """The installation's key: made once (readable by its owner only), shared by every process."""
        if self._key is None:
            if self.path is None:
                self._key = secrets.token_bytes(32)
                return self._key
            key_file = self.path.with_suffix(".key")
            key_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process (or an earlier run) made it
                self._key = key_file.read_bytes()
            else:
                self._key = secrets.token_bytes(32)
                with os.fdopen(fd, "wb") as f:
                    f.write(self._key)
        return self._key

    def record(self, stage: str, category: str, score: float, action: str, guard: str, text: str) -> Record:
        with self._lock:
            digest = hmac.new(self._secret(), text.encode(), hashlib.sha256).hexdigest()
            rec = Record(time.time(), stage, category, round(score, 4), action, guard, digest, len(text))
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(asdict(rec)) + "\n")
            return rec
