"""`search_documents`: find passages in the user's own folder of notes (`tools.documents`).

Text, Markdown and reStructuredText files are cut into passages of a few paragraphs (a Markdown
heading always starts a new one) that remember their file and line numbers. A query is ranked two
ways, by BM25 over words (`bm25s`) and by meaning with the MiniLM sentence embeddings the guard
already has loaded (`ponder.guard.classifier.shared`, so there is one copy in memory), and the two
rankings are fused by reciprocal rank: exact names and numbers are found by the words, paraphrases
by the embeddings.

Passage embeddings are cached on disk (`cache_dir/documents/`), keyed by each file's size and
modification time, so a changed folder costs only the changed files; the index is rebuilt whenever a
search finds the folder's files changed. Nothing heavy is imported until the first search.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ponder.errors import ToolError
from ponder.tools.decorator import FunctionTool

if TYPE_CHECKING:
    import bm25s

    from ponder.config import Settings
    from ponder.guard.embed import Embedder

SUFFIXES = {".txt", ".md", ".markdown", ".rst", ".text"}
MAX_FILE_BYTES = 5_000_000
PASSAGE_CHARS = 900
RRF_K = 60
HEADING = re.compile(r"^ {0,3}#{1,6}\s")


@dataclass(frozen=True)
class Passage:
    file: str
    start: int
    end: int
    text: str
    heading: str = ""

    def indexed(self) -> str:
        """What is searched: the passage with its file name and section heading as context."""
        return f"{Path(self.file).stem.replace('_', ' ')} {self.heading}\n{self.text}"


def passages(file: str, text: str) -> list[Passage]:
    """Cut a file into passages of whole paragraphs, each under ~PASSAGE_CHARS, split at headings."""
    out: list[Passage] = []
    heading, buf = "", list[tuple[int, str]]()  # buf: (line number, line)

    def flush() -> None:
        body = [n for n, s in buf if s.strip()]
        if body:
            out.append(Passage(file, body[0], body[-1], "\n".join(s for _, s in buf).strip(), heading))
        buf.clear()

    for number, line in enumerate(text.splitlines(), 1):
        size = sum(len(s) + 1 for _, s in buf)
        is_heading = HEADING.match(line) is not None
        if is_heading or (not line.strip() and size >= PASSAGE_CHARS * 0.6) or size + len(line) > PASSAGE_CHARS * 1.5:
            flush()
        if is_heading:
            heading = line.strip().strip("#").strip()
        buf.append((number, line))
    flush()
    return out


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Each searchable file (relative path) with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.suffix.lower() not in SUFFIXES or any(p.startswith(".") for p in rel.parts) or not path.is_file():
            continue
        st = path.stat()
        if st.st_size <= MAX_FILE_BYTES:
            found[rel.as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


class DocumentIndex:
    """The passages of one folder, with a BM25 index and their embeddings, kept current on each search."""

    def __init__(self, folder: Path, cache: Path) -> None:
        self.folder, self.cache = folder, cache
        self.signature: dict[str, tuple[int, int]] | None = None
        self.passages: list[Passage] = []
        self.vectors: npt.NDArray[np.float32] = np.zeros((0, 384), np.float32)
        self.bm25: bm25s.BM25 | None = None
        self._lock = threading.Lock()
        self.embedded = 0
        """Passages embedded (not read from the cache) by the last rebuild; for tests and logs."""

    def refresh(self) -> None:
        if not self.folder.is_dir():
            raise ToolError(f"the documents folder {self.folder} does not exist; set tools.documents to a folder")
        signature = _files(self.folder)
        if signature == self.signature:
            return
        self._rebuild(signature)

    def _rebuild(self, signature: dict[str, tuple[int, int]]) -> None:
        import bm25s

        cached = self._load_cache()
        found: list[Passage] = []
        rows: list[npt.NDArray[np.float32] | None] = []
        todo: list[int] = []
        for file, (size, mtime) in signature.items():
            key = f"{file}|{size}|{mtime}"
            if key in cached:
                for p, v in cached[key]:
                    found.append(p)
                    rows.append(v)
                continue
            text = (self.folder / file).read_text(encoding="utf-8", errors="replace")
            for p in passages(file, text):
                todo.append(len(found))
                found.append(p)
                rows.append(None)
        if todo:
            new = _embed([found[i].indexed() for i in todo])
            for i, v in zip(todo, new, strict=True):
                rows[i] = v
        self.embedded = len(todo)
        self.passages = found
        self.vectors = np.stack([r for r in rows if r is not None]) if found else np.zeros((0, 384), np.float32)
        self.bm25 = None
        if found:
            self.bm25 = bm25s.BM25()
            tokens = bm25s.tokenize([p.indexed() for p in found], stopwords="en", show_progress=False)
            self.bm25.index(tokens, show_progress=False)
        self.signature = signature
        self._save_cache()

    def _cache_files(self) -> tuple[Path, Path]:
        digest = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:16]
        return self.cache / f"{digest}.json", self.cache / f"{digest}.npy"

    def _load_cache(self) -> dict[str, list[tuple[Passage, npt.NDArray[np.float32]]]]:
        meta, vectors = self._cache_files()
        try:
            entries = json.loads(meta.read_text())
            matrix = np.load(vectors)
        except (OSError, ValueError):
            return {}
        out: dict[str, list[tuple[Passage, npt.NDArray[np.float32]]]] = {}
        for i, entry in enumerate(entries):
            out.setdefault(entry.pop("key"), []).append((Passage(**entry), matrix[i]))
        return out

    def _save_cache(self) -> None:
        meta, vectors = self._cache_files()
        assert self.signature is not None  # set before saving
        keys = {f: f"{f}|{size}|{mtime}" for f, (size, mtime) in self.signature.items()}
        self.cache.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps([{"key": keys[p.file], **asdict(p)} for p in self.passages]))
        np.save(vectors, self.vectors)

    def search(self, query: str, k: int) -> list[Passage]:
        with self._lock:
            self.refresh()
            if not self.passages:
                return []
            assert self.bm25 is not None  # built with the passages
            import bm25s

            words = bm25s.tokenize([query], stopwords="en", show_progress=False, return_ids=False)[0]
            by_words = np.asarray(self.bm25.get_scores(words)) if words else np.zeros(len(self.passages))
            by_meaning = self.vectors @ _embed([query])[0]
        fused: dict[int, float] = {}
        depth = max(50, k)
        ranked_words = [i for i in np.argsort(-by_words)[:depth] if by_words[i] > 0]
        for ranking in (ranked_words, list(np.argsort(-by_meaning)[:depth])):
            for rank, i in enumerate(ranking):
                fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        return [self.passages[i] for i in best]


def _embedder() -> Embedder:
    from ponder.guard.classifier import shared

    return shared().embedder


def _embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """One normalised row per text: the mean of its windows' embeddings.

    Texts are embedded one at a time: batching pads every text to the longest, which costs more than
    it saves on a CPU already shared with the language model.
    """
    embedder = _embedder()
    out = np.zeros((len(texts), 384), np.float32)
    for i, text in enumerate(texts):
        v = embedder.embed(text).mean(0)
        out[i] = v / max(float(np.linalg.norm(v)), 1e-9)
    return out


_indexes: dict[tuple[Path, Path], DocumentIndex] = {}
_indexes_lock = threading.Lock()


def index_for(folder: Path, cache: Path) -> DocumentIndex:
    """One index per folder per process, shared by every ToolBox."""
    with _indexes_lock:
        return _indexes.setdefault((folder, cache), DocumentIndex(folder, cache))


class DocumentsTool(FunctionTool):
    """Search over `tools.documents`; not offered when no folder is configured."""

    def __init__(self, folder: Path | None = None, cache: Path | None = None) -> None:
        self.folder, self.cache = folder, cache
        super().__init__(self.search_documents, name="search_documents", outside_text=True)  # the user's files

    def search_documents(self, query: str, k: int = 5) -> str:
        """Search the user's own documents (their notes and files) and return the most relevant passages,
        each with its file name and line numbers.

        Args:
            query: What to look for, in words or as a question.
            k: How many passages to return (1-20).
        """
        if self.folder is None or self.cache is None:
            raise ToolError("no documents folder is configured (setting tools.documents)")
        if not query.strip():
            raise ToolError("the query is empty; say what to look for")
        found = index_for(self.folder, self.cache).search(query, max(1, min(k, 20)))
        if not found:
            return f"the documents folder has no text, Markdown or reStructuredText files ({self.folder})"
        return "\n\n".join(f"[{n}] {p.file} lines {p.start}-{p.end}\n{p.text}" for n, p in enumerate(found, 1))

    def configure(self, settings: Settings) -> DocumentsTool | None:
        folder = settings.tools.documents
        if folder is None:
            return None
        return DocumentsTool(folder.expanduser().resolve(), settings.cache_dir / "documents")


search_documents = DocumentsTool()
