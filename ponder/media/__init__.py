"""Images and audio in: validate what the client attached and turn it into evidence a text model can read.

No vision-language model ships on a package index, so ponder perceives with small packaged models
(OCR, classifiers, speech recognition) and hands the language model a structured observation in
place of the pixels or samples. Each kind of media has a `Perceiver`, registered like any plugin.
A perceiver may return plain text, or `Evidence`: text plus grounded annotations, per-stage timings
and hazards it saw (an explicit image), which the guard's policy then acts on.

A conversation that goes on (`ponder chat`) sends its attachments again on every turn; a `Memo`
keyed by their content hash lets it perceive each one once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ponder.registry import Registry
from ponder.types import Annotation, Media, Message, Perception

if TYPE_CHECKING:
    from ponder.config import Settings


@dataclass(frozen=True)
class Flag:
    """A hazard a perceiver saw in an attachment, as a guard category and score, for the guard's policy."""

    category: str
    score: float
    source: str
    note: str
    """What the attachment is ("a 640×480 PNG"), for the audit log; never its content."""


@dataclass(frozen=True)
class Evidence:
    """What a perceiver made of one attachment."""

    text: str
    """The observation the model reads (`perceive` wraps it as `[image 1: …]`)."""
    summary: Mapping[str, Any] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    flags: tuple[Flag, ...] = ()
    quoted: str = ""
    """Words found inside the attachment (OCR, speech): screened by the guard like the user's own text."""
    verbatim: bool = False
    """`text` reaches the model as it is, not framed as `[audio 1: …]`: a transcript is the user's own
    words, and framed it reads to the guard's injection head like an injected instruction."""


class Perceiver(Protocol):
    kind: str
    """The `Media.kind` it reads ("image", "audio")."""

    async def perceive(self, media: Media, settings: Settings) -> str | Evidence:
        """Validate `media` (raising `BadRequest` with what is wrong) and describe it as text evidence."""
        ...


T = TypeVar("T")


class Shared(Generic[T]):
    """A model loaded once per process, by its first user, and shared by every request after (thread-safe)."""

    def __init__(self, build: Callable[..., T]) -> None:
        self._build = build
        self._built: dict[tuple[Hashable, ...], T] = {}
        self._lock = threading.Lock()

    def __call__(self, *key: Hashable) -> T:
        with self._lock:
            if key not in self._built:
                self._built[key] = self._build(*key)
            return self._built[key]


perceivers: Registry[type[Perceiver]] = Registry("perceiver", entry_point_group="ponder.perceivers")
perceivers.register("image", "ponder.media.vision:ImagePerceiver")
perceivers.register("audio", "ponder.media.speech:AudioPerceiver")


@dataclass
class Perceived:
    """The conversation with attachments replaced by evidence, plus what was seen, for the event stream."""

    messages: list[Message]
    events: list[Perception] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)


Memo = MutableMapping[str, str | Evidence]
"""What each attachment was perceived as, by `media_key`, for the length of one conversation."""


def media_key(media: Media) -> str:
    """An attachment's identity: its kind and the SHA-256 of its bytes (the same picture sent twice is one)."""
    return f"{media.kind}:{hashlib.sha256(media.data).hexdigest()}"


async def perceive(messages: Sequence[Message], settings: Settings, memo: Memo | None = None) -> Perceived:
    """The conversation with every attachment replaced by its perceiver's evidence, appended to its turn.

    Attachments are numbered per kind across the conversation (image 1, image 2, …), in the text the
    model reads and in the `Perception` events alike, so an answer can refer to "image 2". With a
    `memo`, an attachment perceived before is not perceived again: its evidence is reused, and where
    that was on an earlier turn its `Perception` event says `cached` (its timings are from then).
    """
    out = Perceived([])
    counts: dict[str, int] = {}
    earlier = set(memo or ())  # perceived on an earlier turn (the same file twice in one turn is not "cached")
    for m in messages:
        if not m.media:
            out.messages.append(m)
            continue
        notes = []
        for media in m.media:
            counts[media.kind] = item = counts.get(media.kind, 0) + 1
            key = media_key(media)
            seen = memo.get(key) if memo is not None else None
            if seen is None:
                seen = await perceivers.get(media.kind)().perceive(media, settings)
                if memo is not None:
                    memo[key] = seen
            if isinstance(seen, str):  # plain evidence is the attachment's words (a transcript): screened as such
                notes.append(seen)
                out.quoted.append(seen)
                continue
            notes.append(seen.text if seen.verbatim else f"[{media.kind} {item}: {seen.text}]")
            out.events.append(
                Perception(media.kind, item, seen.summary, seen.annotations, seen.timings, key in earlier)
            )
            out.flags.extend(seen.flags)
            if seen.quoted:
                out.quoted.append(seen.quoted)
        text = "\n\n".join([*notes, m.content] if m.content else notes)
        out.messages.append(m.model_copy(update={"content": text, "media": []}))
    return out
