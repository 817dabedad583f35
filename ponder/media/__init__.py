"""Images and audio in: validate what the client attached and turn it into evidence a text model can read.

No vision-language model ships on a package index, so ponder perceives with small packaged models
(OCR, classifiers, speech recognition) and hands the language model a structured observation in
place of the pixels or samples. Each kind of media has a `Perceiver`, registered like any plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ponder.registry import Registry
from ponder.types import Media, Message

if TYPE_CHECKING:
    from ponder.config import Settings


class Perceiver(Protocol):
    kind: str
    """The `Media.kind` it reads ("image", "audio")."""

    async def perceive(self, media: Media, settings: Settings) -> str:
        """Validate `media` (raising `BadRequest` with what is wrong) and describe it as text evidence."""
        ...


perceivers: Registry[type[Perceiver]] = Registry("perceiver", entry_point_group="ponder.perceivers")


async def perceive(messages: Sequence[Message], settings: Settings) -> list[Message]:
    """The conversation with every attachment replaced by its perceiver's evidence, appended to its turn."""
    out: list[Message] = []
    for m in messages:
        if not m.media:
            out.append(m)
            continue
        notes = [await perceivers.get(media.kind)().perceive(media, settings) for media in m.media]
        text = "\n\n".join([*notes, m.content] if m.content else notes)
        out.append(m.model_copy(update={"content": text, "media": []}))
    return out

perceivers.register("audio", "ponder.media.speech:AudioPerceiver")
