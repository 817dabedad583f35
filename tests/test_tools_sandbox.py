"""The Python sandbox really stops runaway CPU, memory, output, file access outside its folder and network."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ponder.errors import ToolError
from ponder.tools.sandbox import FIX, Limits, namespaces_available, run_python

LIMITS = Limits(cpu_seconds=1, memory_mb=256, output_bytes=1000, timeout=20)


async def test_runs_code_and_prints_a_final_expression() -> None:
    assert await run_python("x = 6 * 7\nprint('x is', x)\nx + 1", LIMITS) == "x is 42\n43\n"


async def test_a_failing_program_reports_its_traceback() -> None:
    with pytest.raises(ToolError) as caught:
        await run_python("def f():\n    return 1 / 0\nf()", LIMITS)
    assert "ZeroDivisionError" in caught.value.message and 'File "main.py", line 2' in caught.value.message
    assert "sandbox_child" not in caught.value.message
    assert caught.value.message.endswith(FIX)  # the last words say what to do next


async def test_runaway_cpu_is_stopped() -> None:
    with pytest.raises(ToolError, match="1 s of CPU time"):
        await run_python("while True:\n    pass", LIMITS)


async def test_memory_is_limited() -> None:
    with pytest.raises(ToolError, match="out of memory"):
        await run_python("block = bytearray(1024 * 1024 * 1024)", LIMITS)


async def test_output_is_cut_and_the_program_stopped() -> None:
    with pytest.raises(ToolError, match="output limit") as caught:
        await run_python("while True:\n    print('spam ' * 20)", LIMITS)
    assert caught.value.message.count("spam") <= 1000 // 5


async def test_wall_clock_timeout_kills_the_process() -> None:
    with pytest.raises(ToolError, match="wall-clock") as caught:
        await run_python("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)", Limits(timeout=1))
    pid = int(caught.value.message.split()[-1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    "code",
    [
        "print(open('/etc/hostname').read())",
        "open('/tmp/escaped-from-sandbox', 'w').write('x')",
        "import os\nprint(os.listdir('/'))",
        "import os\nos.symlink('/etc/hostname', 'link')\nprint(open('link').read())",
        "import os\nos.chdir('/')",
        "import os\nfd = os.open('.', os.O_RDONLY)\nos.mkdir('sub')\nos.chdir('sub')\n"
        "os.open('../escaped-from-sandbox', os.O_WRONLY | os.O_CREAT, dir_fd=fd)",
        "import os\nfd = os.open(os.__file__, os.O_RDONLY)\nos.fchmod(fd, os.stat(fd).st_mode & 0o7777)",
        "import subprocess\nsubprocess.run(['cat', '/etc/hostname'])",
        "import os\nos.system('cat /etc/hostname')",
        "import subprocess\nsubprocess._fork_exec([b'/bin/cat'])",
        "import builtins\nbuiltins.any = lambda *a: True\nprint(open('/etc/hostname').read())",
        "import __main__\n__main__.FORBIDDEN.clear()\n__main__.FORBIDDEN_PREFIXES = ()\nimport socket\nsocket.socket()",
        "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1000, 1000))",
        "import sqlite3\nsqlite3.connect('/tmp/escaped-from-sandbox').execute('create table t(x)')",
        "import sqlite3\nsqlite3.connect('file:/tmp/escaped-from-sandbox?mode=rwc', uri=True)",
        "import ctypes\nctypes.CDLL(None).system(b'cat /etc/hostname')",
    ],
)
@pytest.mark.parametrize("namespaces", [False, True], ids=["hook-alone", "with-namespaces"])
async def test_nothing_outside_its_folder(code: str, namespaces: bool) -> None:
    with pytest.raises(ToolError, match="PermissionError: sandbox"):  # the audit hook's refusal
        await run_python(code, replace(LIMITS, namespaces=namespaces))
    assert not Path("/tmp/escaped-from-sandbox").exists()


async def test_calls_without_audit_events_are_gone() -> None:
    with pytest.raises(ToolError, match="has no attribute 'mkfifo'"):
        await run_python("import os\nos.mkfifo('/tmp/escaped-from-sandbox')", LIMITS)
    with pytest.raises(ToolError, match="has no attribute 'mknod'"):
        await run_python("import posix\nposix.mknod('/tmp/escaped-from-sandbox')", LIMITS)
    with pytest.raises(ToolError, match="has no attribute 'fork_exec'"):  # starts processes unaudited
        await run_python("import _posixsubprocess\n_posixsubprocess.fork_exec", LIMITS)
    assert not Path("/tmp/escaped-from-sandbox").exists()


async def test_a_throwaway_folder_of_its_own() -> None:
    where = await run_python("import os\nopen('notes.txt', 'w').write('kept?')\nprint(os.getcwd())", LIMITS)
    assert not Path(where.strip()).exists()  # removed after the run
    second = await run_python("import os\nprint(sorted(os.listdir('.')))", LIMITS)
    assert "notes.txt" not in second


async def test_no_network() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    reached = threading.Event()

    def accept() -> None:
        try:
            listener.accept()
            reached.set()
        except OSError:
            pass

    waiter = threading.Thread(target=accept)
    waiter.start()
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'hi')"
        with pytest.raises(ToolError, match="socket"):
            await run_python(code, LIMITS)
        with pytest.raises(ToolError, match="socket"):
            await run_python("import _socket\n_socket.socket()", LIMITS)
    finally:
        waiter.join()
        listener.close()
    assert not reached.is_set()


@pytest.mark.skipif(not namespaces_available(), reason="user namespaces are not allowed here")
async def test_namespaces_hide_the_network_and_the_files() -> None:
    """Where the kernel allows it, the child sees no network device but its own loopback, and no file
    outside its folder and Python's libraries: even calls the audit hook lets through find nothing."""
    assert await run_python("import socket\nsocket.if_nameindex()", LIMITS) == "[(1, 'lo')]\n"
    assert Path("/etc/hostname").exists() and Path(__file__).exists()
    seen = await run_python(f"import os\n[os.path.exists(p) for p in ('/etc/hostname', {__file__!r})]", LIMITS)
    assert seen == "[False, False]\n"
    numbers = await run_python("import numpy, sqlite3, zoneinfo\nprint(numpy.ones(3).sum())", LIMITS)
    assert numbers == "3.0\n"  # what Python needs is still there
