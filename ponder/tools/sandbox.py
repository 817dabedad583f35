"""`python`: run the model's code in a separate, limited, throwaway process and return what it printed.

Each run gets a fresh temporary folder (deleted afterwards) and a new interpreter (`python -I -B`: no
user site, no PYTHON* variables, no bytecode writes, a bare environment) in its own process group, which is killed
outright on the wall-clock timeout or when the output passes its byte limit. Inside, the child
(`sandbox_child.py`) sets kernel resource limits on itself and installs an audit hook before the
code runs. Where the kernel allows unprivileged user namespaces, the child starts in new user,
network and mount namespaces (`unshare -rnm`): it has no network device but its own loopback, and
it pivots to a root that holds only its folder and, read-only, the libraries Python needs, so a
path outside them does not exist for it, past the hook or not.

What this does and does not isolate is spelled out in the README ("Tools"); in short, the limits and
the namespaces are enforced by the kernel, the file and socket rules by an in-process audit hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.errors import ToolError
from ponder.tools.decorator import FunctionTool

if TYPE_CHECKING:
    from ponder.config import Settings

CHILD = Path(__file__).with_name("sandbox_child.py")
FAILED = "the code failed"
FIX = (
    "Fix the error shown above and call python again with the whole corrected program "
    "(import every module you use; print() the results)."
)
"""Said after a traceback, so that the observation ends with what to do next, not with the error alone."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    memory_mb: int = 512
    output_bytes: int = 16_000
    timeout: float = 10.0
    file_bytes: int = 16 * 1024 * 1024
    namespaces: bool = True


@cache
def namespaces_available() -> bool:
    """Whether `unshare -rnm` works here (user namespaces allowed, util-linux installed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        return subprocess.run([unshare, "-rnm", "true"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_python(code: str, limits: Limits) -> str:
    """What `code` printed (stdout and stderr, interleaved); `ToolError` if it failed or was stopped."""
    base = tempfile.mkdtemp(prefix="ponder-sandbox-")
    try:
        folder, jail_root = os.path.join(base, "work"), os.path.join(base, "root")
        os.mkdir(folder)
        os.mkdir(jail_root)
        Path(folder, "main.py").write_text(code, encoding="utf-8")
        isolated = limits.namespaces and await asyncio.to_thread(namespaces_available)
        prefix = ["unshare", "-rnm"] if isolated else []
        child_limits = {"cpu_seconds": limits.cpu_seconds, "memory_mb": limits.memory_mb}
        child_limits["file_bytes"] = limits.file_bytes
        env = {"PATH": "/usr/bin:/bin", "HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8"}
        env |= {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        argv = [*prefix, sys.executable, "-I", "-B", str(CHILD), folder, json.dumps(child_limits)]
        proc = await asyncio.create_subprocess_exec(
            *argv, jail_root if isolated else "",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=folder, env=env, start_new_session=True,
        )  # fmt: skip
        output = bytearray()
        problem = None
        try:
            async with asyncio.timeout(limits.timeout):
                problem = await _read(proc, output, limits.output_bytes)
        except TimeoutError:
            problem = f"stopped after {limits.timeout:g} s of wall-clock time (the time limit)"
        finally:
            _kill(proc.pid)  # the whole group: anything it started dies with it
            await proc.wait()
        text = output[: limits.output_bytes].decode("utf-8", errors="replace")
        problem = problem or _failure(proc.returncode, text, limits)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if problem:
        message = f"{problem}\n{text}".rstrip() if text else problem
        if problem.startswith(FAILED):  # its own error: the traceback says what, this says what to do
            message += f"\n{FIX}"
        raise ToolError(message)
    return text if text.strip() else "(the code ran and printed nothing; print() the values you need)"


async def _read(proc: asyncio.subprocess.Process, output: bytearray, limit: int) -> str | None:
    assert proc.stdout is not None  # created with stdout=PIPE
    while chunk := await proc.stdout.read(65536):
        output += chunk
        if len(output) > limit:
            return f"stopped: the output passed {limit:,} bytes (the output limit); the first {limit:,} follow"
    return None


def _failure(returncode: int | None, text: str, limits: Limits) -> str | None:
    if returncode == 0:
        return None
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"stopped after {limits.cpu_seconds} s of CPU time (the CPU limit)"
    if "MemoryError" in text or returncode == -signal.SIGSEGV:
        return f"ran out of memory (the limit is {limits.memory_mb} MB)"
    if returncode is not None and returncode < 0:
        return f"the process was killed by signal {signal.Signals(-returncode).name}"
    return f"{FAILED} (exit status {returncode})"


class PythonTool(FunctionTool):
    """The sandbox as a tool, with the user's limits (`tools.cpu_seconds`, `memory_mb`, …)."""

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        super().__init__(self.python, name="python", outside_text=False)  # it prints what the model's code computes

    async def python(self, code: str) -> str:
        """Run a Python 3 program in a sandbox and return what it prints: print() every result you need
        (the value of a final expression is printed too). The standard library is available; there is
        no network, no files outside an empty scratch folder, and CPU time, memory and output are limited.

        Args:
            code: A complete Python program. Use print() for the results you need.
        """
        return await run_python(code, self.limits)

    def configure(self, settings: Settings) -> PythonTool:
        t = settings.tools
        return PythonTool(
            replace(
                self.limits,
                cpu_seconds=t.cpu_seconds,
                memory_mb=t.memory_mb,
                output_bytes=t.output_bytes,
                timeout=t.timeout,
                namespaces=t.namespaces,
            )
        )


python = PythonTool()
