"""`POST /v1/audio/transcriptions`: OpenAI's speech-to-text endpoint, multipart in, JSON/text/subtitles out.

Accepts what the OpenAI SDK sends (`file`, `model`, `language`, `prompt`, `temperature`,
`response_format`); `whisper-1` means the configured speech model. Arguments are checked before the
upload is decoded and the upload before the model is loaded, so a bad request costs nothing and
leaves as an OpenAI-shaped 400. Recognition runs in a worker thread.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ponder.config import Settings
from ponder.errors import BadRequest
from ponder.media.speech import check_language, speech_model, transcribe
from ponder.media.transcript import FORMATS, ResponseFormat, render

router = APIRouter()

_MEDIA_TYPES = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


@router.post("/v1/audio/transcriptions", response_model=None)
async def transcriptions(
    request: Request,
    file: Annotated[UploadFile, File(description="The audio: WAV, MP3, OGG/Opus, FLAC, M4A or WebM.")],
    model: Annotated[str, Form()] = "whisper-1",
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
    response_format: Annotated[str, Form()] = "json",
    stream: Annotated[bool, Form()] = False,
) -> Response:
    settings: Settings = request.app.state.assistant.settings
    if response_format not in FORMATS:
        raise BadRequest(
            f"response_format {response_format!r} is not supported; use one of: {', '.join(FORMATS)}",
            param="response_format",
        )
    if stream:
        raise BadRequest("stream is not supported for transcriptions; leave it unset", param="stream")
    check_language(speech_model(settings, model), language)
    data = await file.read()
    t = await transcribe(settings, data, model=model, language=language, prompt=prompt, temperature=temperature)
    body = render(t, cast(ResponseFormat, response_format))
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=_MEDIA_TYPES[response_format])
