"""Speech in, measured: word error rate and real-time factor of both Whisper models, then spoken vs typed GSM8K.

1. The first `--n-wer` GSM8K questions (without the answer instruction) are spoken by Debian's
   espeak-ng, cycling through voices and speeds, and transcribed by whisper-tiny.en and whisper-base.
   WER is corpus-level (jiwer) after Whisper's own English normaliser on both sides, so "seven" and
   "7", "$18" and "18 dollars" agree. Real-time factor = recognition seconds / audio seconds.
2. The first `--n-e2e` of them are asked end to end through `Assistant.run` with the LLM `--model`
   (instant mode, greedy): once typed, once as an `input_audio` attachment the perceiver transcribes
   with `--speech` (the answer instruction stays typed in both). Accuracy is graded like `ponder eval`.

Needs espeak-ng (`make espeak`) and the eval extra (jiwer, whisper-normalizer): `make bench-speech`.
Run: `python -m bench.speech [--n-wer 50] [--n-e2e 20] [--model qwen2.5-coder-1.5b]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.evals.datasets import NUMBER_INSTRUCTION, Item, gsm8k
from ponder.evals.graders import grade
from ponder.media.audio import decode
from ponder.media.speech import recognise
from ponder.models import whisper
from ponder.types import Media, Message, Safety, SamplingParams, TextDelta

RESULTS = Path(__file__).parent / "results"
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-029", "en-us+m3", "en-gb-scotland", "en-us-nyc")
SPEEDS = (140, 160, 175, 150, 130)


@dataclass
class Spoken:
    id: str
    text: str
    voice: str
    speed: int
    wav: bytes


def speak(items: list[Item], folder: Path) -> list[Spoken]:
    out = []
    for i, item in enumerate(items):
        text = item.question.removesuffix(NUMBER_INSTRUCTION).strip()
        voice, speed = VOICES[i % len(VOICES)], SPEEDS[i % len(SPEEDS)]
        path = folder / f"{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
        out.append(Spoken(item.id, text, voice, speed, path.read_bytes()))
    return out


def word_error_rates(settings: Settings, spoken: list[Spoken]) -> dict[str, Any]:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    report: dict[str, Any] = {}
    for name in whisper.SPEECH:
        model = whisper.SPEECH[name]
        refs: list[str] = []
        hyps: list[str] = []
        rows: list[dict[str, Any]] = []
        audio_s = recog_s = 0.0
        recognise(settings, decode(spoken[0].wav, settings.audio), model)  # load and warm up, untimed
        for s in spoken:
            t = recognise(settings, decode(s.wav, settings.audio), model, language="en")
            ref, hyp = norm(s.text), norm(t.text)
            refs.append(ref)
            hyps.append(hyp)
            audio_s += t.duration
            recog_s += t.elapsed
            rows.append({"id": s.id, "voice": s.voice, "speed": s.speed, "wer": jiwer.wer(ref, hyp), "heard": t.text})
        by_voice = {v: statistics.mean(r["wer"] for r in rows if r["voice"] == v) for v in {r["voice"] for r in rows}}
        report[name] = {
            "wer": jiwer.wer(refs, hyps),
            "audio_seconds": round(audio_s, 1),
            "recognition_seconds": round(recog_s, 1),
            "real_time_factor": recog_s / audio_s,
            "wer_by_voice": by_voice,
            "items": rows,
        }
        print(
            f"{name:16s} WER {report[name]['wer']:.1%} on {len(spoken)} questions ({audio_s:.0f} s of speech), "
            f"real-time factor {recog_s / audio_s:.3f}  (worst voice: {max(by_voice, key=by_voice.__getitem__)} "
            f"{max(by_voice.values()):.1%})"
        )
    return report


async def ask(assistant: Assistant, message: Message, max_tokens: int) -> tuple[str, float, bool]:
    """The answer, its seconds, and whether the guard refused the question."""
    started = time.perf_counter()
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=0)
    text, refused = [], False
    async for ev in assistant.run(assistant.plan(), [message], params):
        if isinstance(ev, TextDelta):
            text.append(ev.text)
        refused |= isinstance(ev, Safety)
    return "".join(text), time.perf_counter() - started, refused


async def spoken_vs_typed(
    settings: Settings, items: list[Item], spoken: list[Spoken], max_tokens: int
) -> dict[str, Any]:
    assistant = Assistant(settings)
    instruction = NUMBER_INSTRUCTION.strip()
    limit = asyncio.Semaphore(settings.engine.parallel)

    async def one(item: Item, s: Spoken) -> dict[str, Any]:
        async with limit:
            typed, typed_s, typed_refused = await ask(
                assistant, Message(role="user", content=item.question), max_tokens
            )
            media = [Media(kind="audio", data=s.wav, format="wav")]
            spoken = Message(role="user", content=instruction, media=media)
            heard, heard_s, heard_refused = await ask(assistant, spoken, max_tokens)
        (typed_ok, typed_answer), (heard_ok, heard_answer) = grade(item, typed), grade(item, heard)
        print(f"  {item.id}: gold {item.answer}, typed {typed_answer} {typed_ok}, spoken {heard_answer} {heard_ok}")
        return {
            "id": item.id,
            "gold": item.answer,
            "typed": typed_answer,
            "typed_ok": typed_ok,
            "spoken": heard_answer,
            "spoken_ok": heard_ok,
            "typed_seconds": round(typed_s, 1),
            "spoken_seconds": round(heard_s, 1),
            "typed_refused": typed_refused,
            "spoken_refused": heard_refused,
        }

    try:
        rows = await asyncio.gather(*(one(i, s) for i, s in zip(items, spoken, strict=False)))
    finally:
        await assistant.aclose()
    typed = sum(r["typed_ok"] for r in rows) / len(rows)
    heard = sum(r["spoken_ok"] for r in rows) / len(rows)
    both = sum(r["typed_ok"] == r["spoken_ok"] for r in rows) / len(rows)
    refusals = {k: sum(r[f"{k}_refused"] for r in rows) for k in ("typed", "spoken")}
    print(
        f"GSM8K end to end, {settings.model}, instant, greedy, n={len(rows)}: typed {typed:.0%}, "
        f"spoken ({settings.audio.model}) {heard:.0%}; same verdict on {both:.0%} of questions; "
        f"guard refusals typed {refusals['typed']}, spoken {refusals['spoken']}"
    )
    return {"typed_accuracy": typed, "spoken_accuracy": heard, "agreement": both, "refusals": refusals, "items": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-wer", type=int, default=50, help="Spoken questions for WER and real-time factor.")
    parser.add_argument("--n-e2e", type=int, default=20, help="Of those, asked end to end (0 to skip).")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="Language model for the end-to-end part.")
    parser.add_argument("--speech", default="whisper-base", help="Speech model for the end-to-end part.")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--skip-wer", action="store_true", help="Only the end-to-end part.")
    parser.add_argument("--threads", type=int, help="CPU threads for the LLM (1 avoids spin-waits on a busy machine).")
    args = parser.parse_args()

    settings = Settings(model=args.model, audio={"model": args.speech}, engine={"threads": args.threads})
    items = gsm8k()[: args.n_e2e if args.skip_wer else max(args.n_wer, args.n_e2e)]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machines inflate real time)")
    with tempfile.TemporaryDirectory() as tmp:
        spoken = speak(items, Path(tmp))
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()[0], "python": platform.python_version()},
        "voices": [asdict(s) | {"wav": len(s.wav)} for s in spoken],
    }
    if not args.skip_wer:
        report["asr"] = word_error_rates(settings, spoken)
    if args.n_e2e:
        n = min(args.n_e2e, len(items))
        report["end_to_end"] = {"model": args.model, "speech": args.speech, "max_tokens": args.max_tokens}
        report["end_to_end"] |= asyncio.run(spoken_vs_typed(settings, items[:n], spoken[:n], args.max_tokens))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"speech-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
