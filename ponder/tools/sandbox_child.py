"""The sandboxed interpreter's first act: limit itself, fence itself in, then run the model's code.

Run as `python -I -B sandbox_child.py FOLDER LIMITS_JSON JAIL_ROOT` by `ponder.tools.sandbox`, never
imported (standard library only). Inside `unshare -rnm` (JAIL_ROOT not empty) it first pivots to a
new root holding only FOLDER and the libraries Python needs. Kernel-enforced resource limits come
next (CPU seconds, address space, file size, open files, no core dumps); then an audit hook refuses
network sockets, new processes, ctypes' foreign calls, and any file access outside FOLDER except
reading the interpreter's own libraries. The code is `FOLDER/main.py`; like a notebook cell, the
value of a final expression is printed.

An audit hook is a guard rail, not a security boundary: see the README's "Tools" section.
"""

import ast
import contextlib
import json
import os
import resource
import sys
import traceback
from typing import Any

FORBIDDEN_PREFIXES = ("socket.", "ctypes.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "pty.")
FORBIDDEN = {
    # Paths are checked as if relative to the working folder, which is right only while the process
    # stays there: after a chdir, `dir_fd` opens relative to the old folder would slip past the check.
    "os.chdir",
    "os.system",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "subprocess.Popen",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "resource.setrlimit",
    "resource.prlimit",
    "code.__new__",
    "function.__new__",
    "mmap.__new__",
    "sqlite3.enable_load_extension",
    "sqlite3.load_extension",
    "winreg.OpenKey",
}
WRITES = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "shutil.chown": (0,),
    "sqlite3.connect": (0,),  # ":memory:" resolves inside the folder; "file:" URIs are refused below
}
READS = {"os.listdir": (0,), "os.scandir": (0,), "os.getxattr": (0,), "os.listxattr": (0,)}
UNAUDITED = ("mkfifo", "mknod")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_PRIVATE, MS_RELATIME, MNT_DETACH = 1024, 2048, 1 << 18, 1 << 21, 2
ST_RELATIME = 4096
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
"""The pivot_root system call's number (glibc has no wrapper for it)."""


def jail(folder: str, root: str, readable: list[str], links: dict[str, str]) -> None:
    """Make `/` an empty tmpfs holding only `folder` (writable) and `readable` (read-only), each at its
    own path, and forget the old root; any other path no longer exists for this process.

    Runs as root of fresh user and mount namespaces (`unshare -rnm`), before the audit hook. `root`
    is an empty directory to build the new root on; `links` are symlinks to recreate in it (on a
    merged-/usr system the loader finds shared libraries through `/lib -> usr/lib`).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def encode(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    def mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
        check(libc.mount(encode(source), encode(target), encode(kind), ctypes.c_ulong(flags), encode(data)), target)

    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for path in [folder, *readable]:
        target = root + path
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "w").close()
        mount(path, target, None, MS_BIND | MS_REC)
        if path != folder:  # read-only, keeping the flags a user namespace may not drop
            got = os.statvfs(path).f_flag
            kept = got & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
            kept |= MS_RELATIME if got & ST_RELATIME else 0
            mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept)
    for link, target in links.items():
        os.makedirs(os.path.dirname(root + link), exist_ok=True)
        os.symlink(target, root + link)
    old = root + "/.old-root"
    os.mkdir(old)
    number = PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(0, f"pivot_root: unknown system call number on {os.uname().machine}")
    check(libc.syscall(number, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    check(libc.umount2(b"/.old-root", MNT_DETACH), "umount /.old-root")
    os.rmdir("/.old-root")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def readable_roots() -> tuple[list[str], dict[str, str]]:
    """What the code may read (Python's own libraries, the system's shared libraries, time zones,
    a few devices), and the symlinks among them to recreate."""
    candidates = [*sys.path, sys.base_prefix, "/usr/share/zoneinfo", "/lib", "/lib64", "/usr/lib", "/usr/lib64"]
    present = [p for p in candidates if p and os.path.isdir(p)]
    roots = sorted({os.path.realpath(p) for p in present})
    outer = [r for r in roots if not any(r != o and r.startswith(o + os.sep) for o in roots)]
    links = {p: os.readlink(p) for p in present if os.path.islink(p)}
    return [*outer, *(d for d in DEVICES if os.path.exists(d))], links


DEVICES = ("/dev/null", "/dev/urandom", "/dev/zero")


def limit(folder: str, limits: dict[str, int]) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.chdir(folder)


def fence(folder: str) -> None:
    """Install the audit hook. Everything it uses is bound here, so patching `builtins` or this
    module's tables from the sandboxed code does not change what it refuses."""
    import _posixsubprocess
    import posix
    import subprocess

    def no_processes(*args: object) -> None:
        raise PermissionError("sandbox: starting processes is not allowed")

    # `_posixsubprocess.fork_exec` starts a process without any audit event of its own.
    subprocess._fork_exec = no_processes  # type: ignore[attr-defined]
    for module, names in ((_posixsubprocess, ("fork_exec",)), (os, UNAUDITED), (posix, UNAUDITED)):
        for name in names:
            if hasattr(module, name):
                delattr(module, name)
    realpath, fsdecode, readlink, sep = os.path.realpath, os.fsdecode, os.readlink, os.sep
    any_, isinstance_, len_, str_, denied = any, isinstance, len, str, PermissionError
    forbidden, forbidden_prefixes = frozenset(FORBIDDEN), tuple(FORBIDDEN_PREFIXES)
    writes, reads, write_flags = dict(WRITES), dict(READS), WRITE_FLAGS
    home = realpath(folder)
    libraries = tuple(
        realpath(p) for p in (*sys.path, sys.base_prefix, "/usr/share/zoneinfo") if p and os.path.isdir(p)
    )
    readable_files = frozenset(("/dev/null", "/dev/urandom", "/dev/zero"))
    busy = [False]

    def within(path: Any, roots: tuple[str, ...]) -> bool:
        if isinstance_(path, int):  # a descriptor: check the file it is open on (fchmod on a library file…)
            try:
                path = readlink(f"/proc/self/fd/{path}")
            except OSError:
                return False
        full = realpath(fsdecode(path))
        return any_(full == r or full.startswith(r + sep) for r in roots)

    def refuse(event: str, what: object) -> None:
        raise denied(f"sandbox: {event} {what!r} is not allowed (only the working folder is)")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            if event == "open":
                path, _mode, flags = args
                if path is None or isinstance_(path, int):  # wrapping a descriptor already opened
                    return
                writing = isinstance_(flags, int) and flags & write_flags
                if within(path, (home,)) or (not writing and (path in readable_files or within(path, libraries))):
                    return
                refuse("opening", path)
            elif event == "ctypes.dlopen" and args == (None,):
                return  # `import ctypes` opens the interpreter itself (numpy needs this); symbols stay refused
            elif event in forbidden or event.startswith(forbidden_prefixes):
                raise denied(f"sandbox: {event} is not allowed (no network, processes or ctypes)")
            elif event == "sqlite3.connect" and str_(args[0]).startswith("file:"):
                refuse(event, args[0])
            elif event in writes:
                for i in writes[event]:
                    if i < len_(args) and args[i] is not None and not within(args[i], (home,)):
                        refuse(event, args[i])
            elif event in reads:
                path = args[0] if args else "."
                if path is not None and not within(path, (home, *libraries)):
                    refuse(event, path)
        finally:
            busy[0] = False

    sys.addaudithook(hook)


def run(source: str) -> int:
    tree = ast.parse(source, "main.py")
    final = None
    if tree.body and isinstance(last := tree.body[-1], ast.Expr):
        tree.body.pop()
        final = last.value
    scope: dict[str, object] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(tree, "main.py", "exec"), scope)
        if final is not None:
            value = eval(compile(ast.Expression(final), "main.py", "eval"), scope)
            if value is not None:
                print(repr(value))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except BaseException as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "main.py"]
        sys.stdout.flush()
        print("Traceback (most recent call last):", file=sys.stderr)
        print("".join(traceback.format_list(frames)), end="", file=sys.stderr)
        print("".join(traceback.format_exception_only(exc)), end="", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    folder, limits, jail_root = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    with open(os.path.join(folder, "main.py"), encoding="utf-8") as f:
        source = f.read()
    if jail_root:
        # Where the kernel refuses a mount, the audit hook below stands alone, as it does without unshare.
        with contextlib.suppress(OSError):
            jail(folder, jail_root, *readable_roots())
    limit(folder, limits)
    try:
        ast.parse(source, "main.py")
    except SyntaxError:
        traceback.print_exc(limit=0)
        sys.exit(1)
    fence(folder)
    sys.stdout.flush()
    code = run(source)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
