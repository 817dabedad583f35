"""A continuous-batching scheduler over one llama.cpp context.

Why not `llama_cpp.Llama`: it decodes one sequence at a time behind a lock, so four users (or four
contemplating agents) wait in line. Here one thread owns the context and, at every step, sends the
next token of *every* running sequence through the model in a single `llama_decode`, so they share
each forward pass (on 2 CPU cores: ~21 tok/s for one sequence, ~35 tok/s in aggregate for four).

- Sequences live in slots (llama.cpp sequence ids) of a unified KV cache. New requests join the
  running batch as soon as one of the `parallel` running places frees (continuous batching); at most
  `max_queue` may wait.
- A finished sequence's cells stay in its slot for reuse. `spare` slots beyond `parallel` keep more
  of them at no memory cost: the pool is `context` × `parallel` cells however many slots share it, and
  when it runs out, the least recently used idle slot gives its cells back. Without them, instant's
  majority (eight openings, four at a time) took every slot and overwrote the guard judge's two cached
  prompts, so every answer prefilled the judge's worked answers again.
- A new prompt that shares a prefix with what any slot holds (another running request, or the
  earlier phase of the same conversation) copies those KV cells instead of recomputing them.
- Prompts are prefilled in chunks that fill the rest of each batch, so a long prompt does not
  stall the sequences already generating.
- Cancelling a sequence frees its slot at the next step (one forward pass, tens of milliseconds).
- A sequence may only *read* its prompt (`submit(..., reads=True)`): its answer is the model's hidden
  state at the prompt's last token, which the guard's probe scores (`ponder.guard.probe`). Its cells stay
  in its slot like any prompt's, so the answer to the same prompt that follows copies them and does not
  prefill it again. llama.cpp outputs every token of a batch while embeddings are on, so a reader's last
  token goes through in a step of its own with only the generating sequences' single tokens.

The engine thread never touches asyncio objects directly: it hands results to the caller's event
loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import codecs
import ctypes
import itertools
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import _internals as lli
from llama_cpp import _logger as llama_logger
from llama_cpp.llama_grammar import LlamaGrammar

from ponder.errors import BackendError, QueueFull
from ponder.types import BackendItem, Chunk, Completion, FinishReason, SamplingParams, TokenLogprob, TopLogprob

log = logging.getLogger(__name__)
Sink = asyncio.Queue[BackendItem | BaseException]
Array = np.ndarray[tuple[int], np.dtype[np.float32]]
SHARE_MIN = 16
"""Waiting a step for a sibling's prefill is worth it only when it saves at least this many tokens."""


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _floats(ptr: ctypes.c_void_p | int, n: int) -> Array:
    """`n` floats of one of llama.cpp's output buffers, as a view (no copy)."""
    return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n,))


def _stop_hold(text: str, stops: list[str]) -> int:
    """How many trailing characters of `text` could still grow into a stop string."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if s.startswith(text[-n:]):
                best = n
                break
    return best


@dataclass(eq=False)
class Sequence:
    prompt: list[int]
    params: SamplingParams
    max_tokens: int
    loop: asyncio.AbstractEventLoop
    sink: Sink
    sampler: lli.LlamaSampler | None = None
    slot: int = -1
    pending: list[int] = field(default_factory=list)
    generated: int = 0
    cached: int = 0
    cancelled: bool = False
    finished: bool = False
    reads: bool = False
    """Read the prompt only: finish with the hidden state at its last token, sampling nothing."""
    state: Array | None = None
    _held: str = ""
    _text: list[str] = field(default_factory=list)
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )

    def emit(self, item: BackendItem | BaseException) -> None:
        self.loop.call_soon_threadsafe(self.sink.put_nowait, item)


def place(slots: list[list[int]], free: list[int], prompt: list[int]) -> tuple[int, int, int]:
    """Where a new prompt goes: `(src, dst, shared)`, the slot whose cells it copies, the free slot it
    takes, and how many prompt tokens are already computed there.

    The free slot taken is the one whose overwriting throws the least computed work away (a slot that
    holds the whole prompt and more loses nothing); the prompt's prefix is copied from whichever slot
    holds most of it, a cheap copy in the unified cache. The guard's judge alternates two long prompts
    on one engine, a request's and an answer's with worked answers after the same policy. Taking the
    free slot that held most of the prompt overwrote the other judge prompt, or took a judge's slot
    for a chat prompt that shared only the template's opening, and each switch recomputed several
    hundred tokens."""
    usable = len(prompt) - 1  # the last prompt token is always decoded, for its logits
    held = [min(_common_prefix(s, prompt), usable) for s in slots]
    dst = max(free, key=lambda i: (held[i] - len(slots[i]), held[i], -i))
    src = max(range(len(held)), key=lambda i: (held[i], i == dst))
    return src, dst, held[src]


@dataclass
class Slot:
    tokens: list[int] = field(default_factory=list)
    """What this sequence id holds in the KV cache, position by position."""
    owner: Sequence | None = None
    used: int = 0
    """When it was last taken or copied from (a step of the engine's clock): the idle slot used least
    recently gives its cells back first."""


class Engine:
    def __init__(
        self,
        model_path: Path,
        *,
        context: int,
        parallel: int,
        spare: int = 0,
        batch: int,
        threads: int | None,
        max_queue: int,
    ) -> None:
        self.context = context
        self.parallel = parallel
        self.batch_size = batch
        self.max_queue = max_queue
        # llama.cpp is chatty; with kv_unified it also warns that n_ctx exceeds the training context,
        # which is the pool of all slots, not any one sequence (each is held to `context`).
        llama_logger.logger.setLevel(logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.CRITICAL)
        llama_cpp.llama_backend_init()
        self.model = lli.LlamaModel(
            path_model=str(model_path), params=llama_cpp.llama_model_default_params(), verbose=False
        )
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context * parallel
        params.n_batch = params.n_ubatch = batch
        params.n_seq_max = parallel + spare
        params.n_threads = params.n_threads_batch = threads or os.cpu_count() or 1
        params.kv_unified = True  # one pool of cells shared by all slots, so prefixes can be shared
        params.no_perf = True
        self.ctx = lli.LlamaContext(model=self.model, params=params, verbose=False)
        self.n_vocab = self.model.n_vocab()
        self.n_embd = self.model.n_embd()
        self._embeddings = False
        self.add_bos = self.model.add_bos_token()
        vocab = self.model.vocab
        self._eog = np.array([t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)], dtype=np.int64)
        self._batch = llama_cpp.llama_batch_init(batch, 0, 1)
        self._slots = [Slot() for _ in range(parallel + spare)]
        self._clock = itertools.count(1)
        self._waiting: deque[Sequence] = deque()
        self._active: list[Sequence] = []
        self._cv = threading.Condition()
        self._stopping = False
        self._counts = {"completed": 0, "cancelled": 0, "failed": 0, "cached_tokens": 0, "released": 0}
        self._seeds = itertools.count(int.from_bytes(os.urandom(4), "little"))
        self._thread = threading.Thread(target=self._run, name="ponder-engine", daemon=True)
        self._thread.start()

    # --- called from any thread ----------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        return list(self.model.tokenize(text.encode("utf-8"), add_bos=self.add_bos, special=True))

    def submit(
        self,
        prompt: list[int],
        params: SamplingParams,
        loop: asyncio.AbstractEventLoop,
        sink: Sink,
        *,
        reads: bool = False,
    ) -> Sequence:
        seq = Sequence(prompt, params, min(params.max_tokens, self.context - len(prompt)), loop, sink, reads=reads)
        with self._cv:
            if self._stopping:
                raise BackendError("the engine is shutting down")
            free = self.parallel - len(self._active)
            if len(self._waiting) >= self.max_queue + max(free, 0):
                raise QueueFull(f"all {self.parallel} slots are busy and {len(self._waiting)} requests are waiting")
            self._waiting.append(seq)
            self._cv.notify()
        return seq

    def cancel(self, seq: Sequence) -> None:
        with self._cv:
            if seq.finished:
                return
            seq.cancelled = True
            if seq in self._waiting:
                self._waiting.remove(seq)
                seq.finished = True
                self._counts["cancelled"] += 1
            self._cv.notify()

    def stats(self) -> dict[str, int]:
        with self._cv:
            held = sum(1 for s in self._slots if s.owner is None and s.tokens)
            return {
                "active": len(self._active),
                "waiting": len(self._waiting),
                "slots": self.parallel,
                "spare": len(self._slots) - self.parallel,
                "idle_held": held,
                **self._counts,
            }

    def close(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join(timeout=30)
        llama_cpp.llama_batch_free(self._batch)
        self.ctx.close()
        self.model.close()

    # --- the engine thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping and not self._waiting and not self._active:
                    self._cv.wait()
                if self._stopping:
                    for seq in [*self._waiting, *self._active]:
                        seq.emit(BackendError("the engine shut down"))
                    return
                self._reap_cancelled()
                self._admit()
            if self._active:
                try:
                    self._step()
                except Exception as exc:  # an engine failure ends every running sequence, loudly
                    log.exception("engine step failed")
                    with self._cv:
                        for seq in list(self._active):
                            self._finish(seq, None, error=BackendError(f"llama.cpp failed: {exc}"))

    def _reap_cancelled(self) -> None:
        for seq in [s for s in self._active if s.cancelled]:
            self._finish(seq, "cancelled")

    def _admit(self) -> None:
        while self._waiting and len(self._active) < self.parallel:
            free = [i for i, s in enumerate(self._slots) if s.owner is None]
            seq = self._waiting.popleft()
            src, dst, shared = place([s.tokens for s in self._slots], free, seq.prompt)
            if self._sibling_prefilling(seq, shared):
                self._waiting.appendleft(seq)  # copy its prompt's cells next step instead of recomputing
                return
            mem = self.ctx.memory
            if src == dst:
                llama_cpp.llama_memory_seq_rm(mem, dst, shared, -1)
            else:
                llama_cpp.llama_memory_seq_rm(mem, dst, -1, -1)
                llama_cpp.llama_memory_seq_cp(mem, src, dst, 0, shared)
            now = next(self._clock)
            self._slots[src].used = now
            self._slots[dst] = Slot(tokens=seq.prompt[:shared], owner=seq, used=now)
            seq.slot, seq.cached, seq.pending = dst, shared, seq.prompt[shared:]
            seq.sampler = None if seq.reads else self._make_sampler(seq.params)  # a reading samples nothing
            self._active.append(seq)

    def _sibling_prefilling(self, seq: Sequence, shared: int) -> bool:
        """Is a running sequence still computing a longer stretch of this prompt than any slot holds?"""
        for other in self._active:
            prefilling = other.generated == 0 and bool(other.pending)
            if prefilling and _common_prefix(other.prompt, seq.prompt) >= shared + SHARE_MIN:
                return True
        return False

    def _make_sampler(self, params: SamplingParams) -> lli.LlamaSampler:
        sampler = lli.LlamaSampler()
        if params.grammar is not None:  # first, so temperature and top-p only choose among allowed tokens
            sampler.add_grammar(self.model, LlamaGrammar.from_string(params.grammar, verbose=False))
        if params.temperature <= 0.0:
            sampler.add_greedy()
        else:
            if params.top_p < 1.0:
                sampler.add_top_p(params.top_p, 1)
            sampler.add_temp(params.temperature)
            sampler.add_dist(params.seed if params.seed is not None else next(self._seeds) & 0xFFFFFFFF)
        return sampler

    def _step(self) -> None:
        """One forward pass: a token for every generating sequence, prompt chunks in the room left.

        A reader's last prompt token waits for a step of its own kind: one with embeddings on, which
        carries no other prompt chunk (llama.cpp would output, and compute logits for, every token of it)."""
        batch = self._batch
        room = self.batch_size
        rows: list[tuple[Sequence, int]] = []  # (sequence, batch index whose logits it samples)
        n = 0
        decoding = [s for s in self._active if len(s.pending) == 1 or s.generated]
        prefilling = [s for s in self._active if s not in decoding]
        reading = any(s.reads for s in decoding)
        for seq in decoding if reading else [*decoding, *prefilling]:
            end = len(seq.pending) - 1 if seq.reads and len(seq.pending) > 1 else len(seq.pending)
            take = seq.pending[: min(end, max(room - n, 0))]
            if not take:
                continue
            slot = self._slots[seq.slot]
            pos0 = len(slot.tokens)
            for k, tok in enumerate(take):
                batch.token[n] = tok
                batch.pos[n] = pos0 + k
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = seq.slot
                batch.logits[n] = False
                n += 1
            slot.tokens.extend(take)
            seq.pending = seq.pending[len(take) :]
            if not seq.pending:
                batch.logits[n - 1] = True
                rows.append((seq, n - 1))
        batch.n_tokens = n
        if reading != self._embeddings:
            llama_cpp.llama_set_embeddings(self.ctx.ctx, reading)
            self._embeddings = reading
        # 1: no room in the pool for this batch (llama.cpp has changed nothing); idle slots give theirs back.
        while (rc := llama_cpp.llama_decode(self.ctx.ctx, batch)) == 1 and self._release_idle():
            pass
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        with self._cv:
            for seq, idx in rows:
                if seq.cancelled:
                    self._finish(seq, "cancelled")
                elif seq.reads:
                    seq.state = self._state(idx)
                    self._finish(seq, "stop")
                else:
                    self._sample(seq, idx)

    def _release_idle(self) -> bool:
        """Drop the cells of the idle slot used least recently; False when no idle slot holds any.
        Cells another slot shares stay in the pool, so it may take more than one."""
        idle = [i for i, s in enumerate(self._slots) if s.owner is None and s.tokens]
        if not idle:
            return False
        i = min(idle, key=lambda k: self._slots[k].used)
        llama_cpp.llama_memory_seq_rm(self.ctx.memory, i, -1, -1)
        self._slots[i].tokens = []
        self._counts["released"] += 1
        return True

    def _sample(self, seq: Sequence, idx: int) -> None:
        if seq.sampler is None:  # set at admission; a sequence without one was never admitted
            raise RuntimeError("sampling a sequence that was never admitted")
        if seq.generated < seq.params.min_tokens and len(self._eog):
            self._row(idx)[self._eog] = -np.inf  # the sampler reads these logits next
        token = llama_cpp.llama_sampler_sample(seq.sampler.sampler, self.ctx.ctx, idx)
        if llama_cpp.llama_vocab_is_eog(self.model.vocab, token):
            self._finish(seq, "stop")
            return
        seq.generated += 1
        piece = self.model.token_to_piece(token, special=False).rstrip(b"\0")
        text = seq._decoder.decode(piece)
        lps = self._logprobs(seq, idx, token, piece) if seq.params.logprobs else ()
        stops = seq.params.stop
        if stops:
            buf = seq._held + text
            hit = min(((buf.find(s), s) for s in stops if s in buf), default=None)
            if hit is not None:
                self._emit_text(seq, buf[: hit[0]], lps)
                seq._held = ""
                self._finish(seq, "stop")
                return
            hold = _stop_hold(buf, stops)
            seq._held = buf[len(buf) - hold :] if hold else ""
            text = buf[: len(buf) - hold]
        self._emit_text(seq, text, lps)
        if seq.generated >= seq.max_tokens:
            self._finish(seq, "length")
        else:
            seq.pending = [token]

    def _emit_text(self, seq: Sequence, text: str, lps: tuple[TokenLogprob, ...]) -> None:
        if text or lps:
            seq._text.append(text)
            seq.emit(Chunk(text, 1, lps))

    def _row(self, idx: int) -> Array:
        """The logits of batch row `idx`, as a writable view of llama.cpp's own buffer."""
        return _floats(llama_cpp.llama_get_logits_ith(self.ctx.ctx, idx), self.n_vocab)

    def _state(self, idx: int) -> Array:
        """The hidden state (after the final norm) at batch row `idx`, copied out of llama.cpp's buffer."""
        ptr = llama_cpp.llama_get_embeddings_ith(self.ctx.ctx, idx)
        if not ptr:
            raise RuntimeError("llama.cpp returned no hidden state for a reading sequence")
        return _floats(ptr, self.n_embd).copy()

    def _logprobs(self, seq: Sequence, idx: int, token: int, piece: bytes) -> tuple[TokenLogprob, ...]:
        logits = self._row(idx)
        shifted = logits - logits.max()
        logz = float(np.log(np.exp(shifted).sum()))
        top: tuple[TopLogprob, ...] = ()
        if seq.params.top_logprobs:
            k = seq.params.top_logprobs
            ids = np.argpartition(-shifted, k)[:k]
            ids = ids[np.argsort(-shifted[ids])]
            top = tuple(
                TopLogprob(
                    # special=True: an alternative that is a control token (an end of turn, a tag) is
                    # named by its text; without it every one of them reads "".
                    self.model.token_to_piece(int(t), special=True).rstrip(b"\0").decode("utf-8", "replace"),
                    float(shifted[t]) - logz,
                )
                for t in ids
            )
        return (TokenLogprob(piece.decode("utf-8", "replace"), float(shifted[token]) - logz, top),)

    def _finish(self, seq: Sequence, reason: FinishReason | None, error: BaseException | None = None) -> None:
        """End a sequence (caller holds the lock): free its slot, keep its KV for prefix reuse."""
        if seq.finished:
            return
        seq.finished = True
        if seq in self._active:
            self._active.remove(seq)
        if seq.slot >= 0:
            slot = self._slots[seq.slot]
            slot.owner = None
            if reason is None:  # after a failed decode the cells are not trustworthy
                llama_cpp.llama_memory_seq_rm(self.ctx.memory, seq.slot, -1, -1)
                slot.tokens = []
        if seq.sampler is not None:
            seq.sampler.close()
        self._counts["failed" if reason is None else "cancelled" if reason == "cancelled" else "completed"] += 1
        self._counts["cached_tokens"] += seq.cached
        if error is not None or reason is None:
            seq.emit(error or BackendError("sequence failed"))
            return
        tail = seq._held  # a matched stop string cleared it; bytes of a cut-off character are dropped
        if tail and reason != "cancelled":
            self._emit_text(seq, tail, ())
        seq.emit(Completion(reason, len(seq.prompt), seq.generated, seq.cached, "".join(seq._text), seq.state))
        self._cv.notify()
