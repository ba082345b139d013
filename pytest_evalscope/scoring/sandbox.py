"""Running untrusted Python (model-written code) in a sandbox, and judging it.

    verdict = run_tests(program, tests, timeout=4.0)  # HumanEval: prompt + completion, test + check(entry_point)
    verdict = run_python(program, timeout=4.0)        # a plain script: passed if it runs to its end
    verdict.status    # "passed" | "failed" | "timeout" | "crashed"
    verdict.reason    # "AssertionError", "timed out after 4s", "killed by SIGSEGV", ...
    verdict.isolation # "bwrap" | "unshare" | "process": the layer that actually ran it

Two processes run inside the sandbox, forked by one bootstrap:

- the **program** (untrusted): runs `program` as ``__main__``, then answers calls to its functions.
  It is forked before the harness learns the pass token, and closes the status pipe, the tests and
  stdin before any untrusted byte runs.
- the **harness** (trusted): runs `tests`; a name the tests use but do not define (the entry point,
  a helper of the prompt's such as HumanEval/32's ``poly``) is a function of the program's, called
  over pipes with values in a tagged JSON encoding, data only (None, bool, int, float, complex, str,
  bytes, list, tuple, dict, set, frozenset; subclasses go as their base type; never pickle). An
  exception in the program raises in the tests; a value that cannot be encoded, a broken reply, or
  the program's end fails that call, every later one and the run. Only the harness holds the pass
  token and the status pipe; it is non-dumpable (no ptrace, no /proc/<pid>/mem or fd), and as root
  harness and program run under two different fresh uids. Whatever the program does in its own
  address space (a forged status, monkeypatched builtins, an object equal to everything) cannot
  make the tests pass.

Isolation levels (:func:`available_isolations` probes them; the operator picks one, a request never):

- ``bwrap`` (bubblewrap): new network, pid, ipc, uts (and cgroup) namespaces; a root file system
  holding only /usr, the Python installation (read-only, nosuid) and the sandbox folder (read-write);
  an empty tmpfs /tmp, a minimal /dev, the namespace's own /proc. Not root: a user namespace too.
- ``unshare`` (util-linux, needs root): the same namespaces and the same minimal root, built by the
  bootstrap itself with mount(2) and chroot(2) before it runs any untrusted byte.
- ``process``: plain child processes, no namespaces: the program sees the host's file system (as
  its permissions allow), network and processes. As root it runs under a fresh uid, so the kernel
  stops it signalling, tracing or reading other users' processes and writing their files, and every
  process of that uid is killed at the end (a ``setsid`` child included); this level refuses to run
  as root when that uid could not reach the interpreter (a ConfigError naming the path). Not root,
  the program runs as the evaluating user: it can signal, trace and read that user's processes
  (pytest included) and write that user's files; an audit-hook guard refuses the common calls for
  that (process control, sockets, ctypes, /proc, writes outside the sandbox folder), but it lives in
  the program's own interpreter and is trivially bypassed: it stops accidents, not an attacker.

Always: a fresh temporary folder as the working directory, an environment with no inherited
variables, ``python -I -S`` (site-packages on sys.path without running their .pth files), stdin at
/dev/null, output captured to size-capped files, truncated and with control characters escaped,
resource limits (CPU seconds, address space, processes, file size, open files) set before any
untrusted byte, and a wall-clock timeout that kills the process group (under namespaces, the whole
pid namespace; as root, every process of the sandbox's uids).

Errors: :class:`SandboxError` means the sandbox itself could not run; a ConfigError that the
isolation asked for is unknown or cannot run here. A program's own failure is a verdict.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..params import ConfigError

ISOLATIONS = ("bwrap", "unshare", "process")  # strongest first
STATUSES = ("passed", "failed", "timeout", "crashed")
SANDBOX_DIR = "/sandbox"  # the working folder as the program sees it under namespaces
_UID_RANGE = (1 << 20, 1 << 30)  # fresh uids for sandboxed processes when we are root
_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(RuntimeError):
    """The sandbox could not run the program at all (an infrastructure failure, not a verdict)."""


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits (setrlimit); output_bytes caps what is kept of stdout and stderr."""

    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    processes: int = 64
    file_bytes: int = 16 << 20
    open_files: int = 64
    output_bytes: int = 8 << 10

    def rlimits(self) -> dict[str, int]:
        return {"RLIMIT_CPU": self.cpu_seconds, "RLIMIT_AS": self.memory_bytes, "RLIMIT_NPROC": self.processes,
                "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0}


@dataclass(frozen=True)
class Verdict:
    """What happened to one program. `reason` is one short line; stdout/stderr are truncated. All three
    are neutralised: control characters other than newline and tab (ANSI escapes, carriage returns,
    bidirectional overrides) are shown escaped, as ``\\x1b``."""

    status: str
    reason: str
    isolation: str
    returncode: int | None = None
    duration_s: float = 0.0
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# ---------------------------------------------------------------- the bootstrap (runs inside the sandbox)

# `python -I -c BOOT CONFIG`: builds the minimal root (unshare level); forks the program, which
# closes the status pipe, the tests and stdin, drops to its uid, sets the limits and waits for the
# harness; the harness drops to its own uid, turns non-dumpable, reports "started", reads the token
# (stdin) and the tests (an inherited file), tells the program to run, runs the tests, and reports
# the token only when they ran to their end, else a "verdict" line saying why not.
BOOT = r'''
import builtins, ctypes, json, os, resource, select, sys, traceback, types  # imported once, before the fork
cfg = json.loads(sys.argv[1])

def build_root(spec):
    libc = ctypes.CDLL(None, use_errno=True)
    RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC, PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
    def mount(src, dst, fstype, flags, data=None):
        enc = lambda s: None if s is None else s.encode()
        if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "mount %s on %s: %s" % (src, dst, os.strerror(err)))
    new = spec["new_root"]
    mount(None, "/", None, REC | PRIVATE)
    mount("tmpfs", new, "tmpfs", NOSUID, "size=1m,mode=755")
    def bind(src, dst, flags):
        target = new + dst
        if os.path.isdir(src):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        mount(src, target, None, BIND | REC)
        mount(None, target, None, BIND | REMOUNT | flags)
    # /tmp first: an interpreter or venv that lives under /tmp is bound on top of it, not hidden by it
    os.makedirs(new + "/tmp")
    mount("tmpfs", new + "/tmp", "tmpfs", NOSUID | NODEV, "size=16m,mode=1777")
    for path in spec["ro"]:
        bind(path, path, RDONLY | NOSUID | NODEV)
    for name, target in spec["links"].items():
        os.symlink(target, new + name)
    for dev in ("null", "zero", "random", "urandom"):
        bind("/dev/" + dev, "/dev/" + dev, NOSUID | NOEXEC)
    os.makedirs(new + "/proc")
    mount("proc", new + "/proc", "proc", NOSUID | NODEV | NOEXEC)
    bind(spec["work"], spec["cwd"], NOSUID | NODEV)
    mount(None, new, None, REMOUNT | RDONLY | NOSUID)
    os.chdir(new)
    os.chroot(".")

def reap(child):
    _, wait_status = os.waitpid(child, 0)
    os._exit(128 + os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else os.WEXITSTATUS(wait_status))

if cfg["root"]:
    build_root(cfg["root"])
    child = os.fork()  # neither harness nor program may be its pid namespace's init, which ignores most signals
    if child:
        reap(child)

def become(uid):
    if uid is not None:
        os.setgroups([]); os.setgid(uid); os.setuid(uid)
    for name, value in cfg["limits"].items():
        # CPU: SIGXCPU at the soft limit (a timeout verdict), SIGKILL a second later if it is ignored
        resource.setrlimit(getattr(resource, name), (value, value + (name == "RLIMIT_CPU")))

# Values cross between the processes as tagged JSON, data only: never pickle or marshal.
def encode(value):
    if value is None:
        return ["n"]
    if value is True or value is False:
        return ["b", value]
    if isinstance(value, int):
        return ["i", hex(int.__index__(value))]  # hex: no limit on digits, linear to parse
    if isinstance(value, float):
        return ["f", float.hex(value)]
    if isinstance(value, complex):
        return ["c", float.hex(float(value.real)), float.hex(float(value.imag))]
    if isinstance(value, str):
        return ["s", str.__str__(value)]
    if isinstance(value, bytes):
        return ["y", bytes.hex(value)]
    for base, tag in ((list, "l"), (tuple, "t"), (set, "S"), (frozenset, "F")):
        if isinstance(value, base):
            return [tag, [encode(item) for item in base.__iter__(value)]]
    if isinstance(value, dict):
        return ["d", [[encode(k), encode(v)] for k, v in dict.items(value)]]
    raise TypeError("a %s value cannot be sent between the program and the tests" % type(value).__name__)

def decode(data):
    if type(data) is not list or not data or type(data[0]) is not str:
        raise ValueError("not a tagged value")
    tag, rest = data[0], data[1:]
    if tag == "n" and not rest:
        return None
    if len(rest) == 1:
        item = rest[0]
        if tag == "b" and type(item) is bool:
            return item
        if type(item) is str:
            if tag == "i":
                return int(item, 16)
            if tag == "f":
                return float.fromhex(item)
            if tag == "s":
                return item
            if tag == "y":
                return bytes.fromhex(item)
        if type(item) is list:
            if tag == "l":
                return [decode(x) for x in item]
            if tag == "t":
                return tuple(decode(x) for x in item)
            if tag == "S":
                return {decode(x) for x in item}
            if tag == "F":
                return frozenset(decode(x) for x in item)
            if tag == "d":
                pairs = [(decode(p[0]), decode(p[1])) for p in item if type(p) is list and len(p) == 2]
                if len(pairs) != len(item):
                    raise ValueError("not a key-value pair")
                return dict(pairs)
    if tag == "c" and len(rest) == 2 and type(rest[0]) is str and type(rest[1]) is str:
        return complex(float.fromhex(rest[0]), float.fromhex(rest[1]))
    raise ValueError("not a tagged value")

def send(stream, message):
    stream.write(json.dumps(message).encode("ascii") + b"\n")
    stream.flush()

def program(requests, replies):
    """The untrusted side: runs program.py, then calls its functions for the harness."""
    requests, replies = os.fdopen(requests, "rb"), os.fdopen(replies, "wb")
    def failure(exc):
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return ["raise", type(exc).__name__, line.partition(": ")[2][:1000]]
    def answer(message):
        for stream in (sys.stdout, sys.stderr):  # its output must not be lost when the sandbox is torn down
            try:
                stream.flush()
            except Exception:
                pass
        send(replies, message)
    if requests.readline() != b'["load"]\n':  # sent once the harness can no longer be read or traced
        os._exit(3)
    module = types.ModuleType("__main__")
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    sys.argv = ["program.py"]
    sys.path.extend(cfg["site_packages"])
    if cfg["guard"]:
        sys.addaudithook(make_guard(os.path.realpath(cfg["cwd"]) + os.sep))
    try:
        with open("program.py", encoding="utf-8") as handle:
            code = compile(handle.read(), "program.py", "exec")
        exec(code, module.__dict__)
        message = ["ok", ["n"]]
    except SystemExit:
        raise
    except BaseException as exc:
        message = failure(exc)
    answer(message)
    while True:
        line = requests.readline()
        if not line:  # the harness is done
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(0)
        _, name, args, kwargs = json.loads(line)
        try:
            if name not in module.__dict__:
                raise NameError("name %r is not defined" % name)
            result = module.__dict__[name](*map(decode, args), **{k: decode(v) for k, v in kwargs})
        except SystemExit:
            raise
        except BaseException as exc:
            answer(failure(exc))
            continue
        try:
            message = ["ok", encode(result)]
        except Exception:  # TypeError, RecursionError (a cycle or deep nesting), MemoryError
            message = ["unencodable", type(result).__name__]
        answer(message)

def make_guard(cwd):
    deny = frozenset((
        "os.kill", "os.killpg", "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
        "subprocess.Popen", "pty.spawn", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
        "socket.getaddrinfo", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "os.putenv", "os.unsetenv",
        "os.chdir", "os.setuid", "os.setsid"))
    paths = frozenset(("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
                       "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move"))
    def guard(event, args):
        if event in deny:
            raise PermissionError("sandbox: %s is not allowed" % event)
        if event == "open" and isinstance(args[0], (str, bytes)):
            path = os.path.realpath(os.fsdecode(args[0]))
            writing = (isinstance(args[1], str) and any(c in args[1] for c in "wax+")) or (args[2] & 3)
            if path.startswith("/proc") or (writing and not path.startswith(cwd) and path != "/dev/null"):
                raise PermissionError("sandbox: opening %s is not allowed" % path)
        if event in paths:
            for arg in args:
                if isinstance(arg, (str, bytes)) and not os.path.realpath(os.fsdecode(arg)).startswith(cwd):
                    raise PermissionError("sandbox: %s outside the sandbox folder is not allowed" % event)
    return guard

def harness(child, requests, replies):
    """The trusted side: runs the tests, calling into the program; only it knows the token."""
    os.chdir("/")
    become(cfg["uids"] and cfg["uids"][0])
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0: no ptrace, no /proc/pid/mem
        os._exit(70)
    status = os.fdopen(cfg["status_fd"], "w")
    status.write("started\n"); status.flush()
    token = sys.stdin.readline().strip()
    null = os.open("/dev/null", os.O_RDONLY); os.dup2(null, 0); os.close(null)
    with os.fdopen(cfg["tests_fd"], encoding="utf-8") as handle:
        tests = json.load(handle)["tests"]
    sys.path.extend(cfg["site_packages"])
    requests = os.fdopen(requests, "wb")

    class Abort(BaseException):
        """The program can no longer answer (or broke the protocol): this call, every later one and the run fail."""

    class ProgramError(Exception):
        """An exception of the program's that has no safe builtin counterpart here."""

    broken, ended, pending = [], [], bytearray()

    def abort(verdict):
        broken.append(verdict)
        raise Abort(verdict)

    def lost():
        wait_status = ended[0] if ended else os.waitpid(child, 0)[1]
        if os.WIFSIGNALED(wait_status):
            abort(["signal", os.WTERMSIG(wait_status)])
        abort(["exit", os.WEXITSTATUS(wait_status)])

    def read_line():
        complete = b"\n" in pending
        while not complete:
            if not select.select([replies], [], [], 0.5)[0]:
                if not ended:
                    done, wait_status = os.waitpid(child, os.WNOHANG)
                    if done:
                        ended.append(wait_status)
                if ended and not select.select([replies], [], [], 0)[0]:
                    lost()  # it ended, though a child of its may still hold the pipe open
                continue
            chunk = os.read(replies, 1 << 16)
            if not chunk:
                lost()
            pending.extend(chunk)
            if len(pending) > cfg["reply_bytes"]:
                abort(["error", "the program sent a reply over %d bytes" % cfg["reply_bytes"]])
            complete = b"\n" in chunk
        line, _, rest = bytes(pending).partition(b"\n")
        pending[:] = rest
        return line

    def error_of(name, message):
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, (StopIteration, StopAsyncIteration)):
            try:
                return cls(message)
            except Exception:
                pass
        return ProgramError("%s: %s" % (name, message) if message else name)

    def call(message):
        if broken:
            raise Abort(broken[0])
        try:
            send(requests, message)
        except OSError:
            lost()
        line = read_line()
        try:
            reply = json.loads(line)
            kind = reply[0] if type(reply) is list and reply else None
            if kind == "ok" and len(reply) == 2:
                return decode(reply[1])
            if kind == "raise" and len(reply) == 3 and type(reply[1]) is str and type(reply[2]) is str:
                error = error_of(reply[1][:100], reply[2][:1000])
            elif kind == "unencodable" and len(reply) == 2 and type(reply[1]) is str:
                error = None
                what = "the program returned a %s value, which cannot be sent to the tests" % reply[1][:100]
            else:
                raise ValueError("an unknown reply")
        except Exception as exc:  # ValueError, RecursionError, MemoryError: a hostile reply
            abort(["error", "the program broke the protocol: %s" % type(exc).__name__])
        if error is None:
            abort(["error", what])
        raise error

    class Remote:
        """A function of the program's, called by value over the pipes."""
        def __init__(self, name):
            self.__name__ = name
        def __call__(self, *args, **kwargs):
            return call(["call", self.__name__, [encode(a) for a in args], [[k, encode(v)] for k, v in kwargs.items()]])
        def __repr__(self):
            return "<the program's %s>" % self.__name__

    class Names(dict):
        """The tests' globals: a name they lack (the entry point, a helper of the prompt's) is the program's."""
        def __missing__(self, name):
            if name.startswith("__") or hasattr(builtins, name):
                raise KeyError(name)
            self[name] = Remote(name)
            return self[name]

    try:
        call(["load"])
        exec(compile(tests, "tests.py", "exec"), Names(__name__="__main__", __builtins__=builtins))
        if broken:
            raise Abort(broken[0])
    except BaseException as exc:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        line = str(exc) if isinstance(exc, ProgramError) else traceback.format_exception_only(type(exc), exc)[-1]
        verdict = broken[0] if broken else ["error", line.strip()[:1000]]
        status.write("verdict %s\n" % json.dumps(verdict)); status.flush()
        code = 1
    else:
        status.write(token + "\n"); status.flush()
        code = 0
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.kill(child, 9)  # when it runs as our own uid; otherwise the namespace or the caller ends it
    except OSError:
        pass
    os._exit(code)

to_program = os.pipe()
to_harness = os.pipe()
uids = cfg["uids"] or [None, None]
pid = os.fork()  # before the harness learns the token
if pid == 0:
    for fd in (cfg["status_fd"], cfg["tests_fd"], to_program[1], to_harness[0]):
        os.close(fd)
    null = os.open("/dev/null", os.O_RDONLY); os.dup2(null, 0); os.close(null)
    os.chdir(cfg["cwd"])
    become(uids[1])
    program(to_program[0], to_harness[1])
else:
    os.close(to_program[0]); os.close(to_harness[1])
    harness(pid, to_program[1], to_harness[0])
'''


# ---------------------------------------------------------------- detection


def _readonly_paths(python: str) -> list[str]:
    """What a sandboxed interpreter needs to see: /usr and the Python installation (venv included)."""
    paths = {"/usr"}
    for prefix in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.dirname(os.path.realpath(python)))):
        real = os.path.realpath(prefix)
        if not real.startswith("/usr/"):
            paths.add(real)
    return sorted(p for p in paths if os.path.isdir(p))


def _site_packages() -> list[str]:
    """Installed packages stay importable; `-S` skips their .pth files, which cost ~0.1 s per start."""
    return [p for p in site.getsitepackages() if os.path.isdir(p)]


def _root_links() -> dict[str, str]:
    """/bin, /lib, /lib64, /sbin as the host has them (symlinks into /usr on merged-/usr systems)."""
    return {name: os.readlink(name) for name in ("/bin", "/lib", "/lib64", "/sbin") if os.path.islink(name)}


def _root_dirs() -> list[str]:
    return [name for name in ("/bin", "/lib", "/lib64", "/sbin") if os.path.isdir(name) and not os.path.islink(name)]


def _is_root() -> bool:
    return os.geteuid() == 0


PROBE_FAILURES: dict[str, str] = {}  # why a level is not available with this interpreter, for diagnostics
_probed: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
_probe_lock = threading.Lock()
_PROBE_PROGRAM = "import fractions\n\ndef answer():\n    return int(fractions.Fraction(84, 2))\n"
_PROBE_TESTS = "assert answer() == 42 and type(answer()) is int\nprint(6 * 7)\n"


def available_isolations(python: str | None = None) -> tuple[str, ...]:
    """The isolation levels that work here, strongest first, each probed once per process by running a
    program and its tests. May be empty (as root, with no namespaces and an interpreter a fresh uid
    cannot reach); :func:`unavailable_reasons` says why a level is missing. `python`: the interpreter
    that runs the sandbox, this one by default."""
    return _probe_all(python or sys.executable)[0]


def unavailable_reasons(python: str | None = None) -> dict[str, str]:
    """Why each level missing from :func:`available_isolations` cannot run here, one line each."""
    return dict(_probe_all(python or sys.executable)[1])


def strongest_isolation(python: str | None = None) -> str | None:
    """The strongest level that works here, or None when none does."""
    return next(iter(available_isolations(python)), None)


def _probe_all(python: str) -> tuple[tuple[str, ...], dict[str, str]]:
    with _probe_lock:
        if python not in _probed:
            failures: dict[str, str] = {}
            found = tuple(level for level in ISOLATIONS if _probe(level, python, failures))
            _probed[python] = (found, failures)
            if python == sys.executable:
                PROBE_FAILURES.clear()
                PROBE_FAILURES.update(failures)
        return _probed[python]


def _probe(isolation: str, python: str, failures: dict[str, str]) -> bool:
    problem = _process_problem(python) if isolation == "process" else None
    for timeout in (10.0, 30.0):  # a second, longer try: a busy host must not silently weaken the sandbox
        if problem:
            break
        try:
            probe = _run(_PROBE_PROGRAM, _PROBE_TESTS, timeout, Limits(), isolation, "probe", python)
        except SandboxError as exc:
            problem = str(exc)
            break
        if probe.passed and probe.stdout.strip() == "42":
            return True
        problem = f"{probe.status}: {probe.reason}"
    failures[isolation] = problem or "unknown"
    return False


def _process_problem(python: str) -> str | None:
    """Why the process level cannot run here: as root, it runs code under a fresh uid only."""
    if not _is_root():
        return None
    real = os.path.realpath(python)
    paths = [real]
    if real == os.path.realpath(sys.executable):
        paths.append(sysconfig.get_paths()["stdlib"])
    for path in paths:
        blocked = _unreachable_part(path)
        if blocked:
            return (f"as root the process level runs code under a fresh uid, which cannot reach the interpreter "
                    f"{real} ({blocked}); install bubblewrap (apt-get install bubblewrap), use a world-readable "
                    f"Python, or run as a non-root user")
    return None


def _unreachable_part(path: str) -> str | None:
    """The first folder on `path` that others cannot enter, or the file they cannot read, with its mode."""
    target = Path(path)
    for part in [*reversed(target.parents), target]:
        try:
            mode = part.stat().st_mode
        except OSError as exc:
            return f"{part}: {exc.strerror}"
        needed = 0o001 if part != target else (0o005 if target.is_file() else 0o001)
        if mode & needed != needed:
            return f"{part} is mode {mode & 0o777:04o}"
    return None


def detect_isolation() -> str:
    """The strongest level that works here (a ConfigError when none does)."""
    return resolve_isolation("auto")


def resolve_isolation(requested: str | None, python: str | None = None) -> str:
    """`auto`/None -> the strongest available; a named level must exist and work here (else ConfigError)."""
    if requested not in (None, "", "auto") and requested not in ISOLATIONS:
        raise ConfigError(f"sandbox isolation {requested!r} is unknown; valid: auto, {', '.join(ISOLATIONS)}")
    available, failures = _probe_all(python or sys.executable)
    if requested in (None, "", "auto"):
        if not available:
            why = "; ".join(f"{level}: {failures.get(level, 'unknown')}" for level in ISOLATIONS)
            raise ConfigError(f"no sandbox isolation works here ({why})")
        return available[0]
    if requested not in available:
        raise ConfigError(f"sandbox isolation {requested!r} is not available here: "
                          f"{failures.get(str(requested), 'unknown')}; available: {', '.join(available) or 'none'}")
    return str(requested)


# ---------------------------------------------------------------- running


def run_tests(program: str, tests: str, *, timeout: float = 4.0, limits: Limits | None = None,
              isolation: str | None = None, label: str = "", python: str | None = None) -> Verdict:
    """Run `program` (untrusted) and `tests` (trusted; they call the program's functions by name) in a
    sandbox: passed only if the tests ran to their end. `label` (a sample id, say) is shown in the
    sandboxed processes' command lines, for `ps`."""
    python = python or sys.executable
    level = resolve_isolation(isolation, python)
    return _run(program, tests, float(timeout), limits or Limits(), level, label, python)


def run_python(code: str, *, timeout: float = 4.0, limits: Limits | None = None, isolation: str | None = None,
               label: str = "", python: str | None = None) -> Verdict:
    """Run `code` as a program in a sandbox and judge it: passed only if it ran to its end."""
    return run_tests(code, "", timeout=timeout, limits=limits, isolation=isolation, label=label, python=python)


def _command(isolation: str, base: Path, uids: list[int] | None, cfg: dict[str, object], python: str) -> list[str]:
    boot = [python, "-I", "-B", "-S", "-c", BOOT]
    if isolation == "process":
        return [*boot, json.dumps(cfg)]
    if isolation == "unshare":
        cfg["cwd"] = SANDBOX_DIR
        cfg["root"] = {"new_root": str(base / "root"), "work": str(base / "work"), "cwd": SANDBOX_DIR,
                       "ro": _readonly_paths(python) + _root_dirs(), "links": _root_links()}
        return ["unshare", "--fork", "--kill-child", "--pid", "--mount", "--net", "--ipc", "--uts", "--",
                *boot, json.dumps(cfg)]
    cfg["cwd"] = SANDBOX_DIR
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try"]
    if uids is not None:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # the bootstrap drops to the uids
    else:
        args += ["--unshare-user"]
    # /tmp first: an interpreter or venv that lives under /tmp is bound on top of it, not hidden by it
    args += ["--perms", "1777", "--size", str(16 << 20), "--tmpfs", "/tmp"]
    made: set[str] = {"/tmp"}
    for path in _readonly_paths(python) + _root_dirs():
        for parent in reversed(Path(path).parents[:-1]):  # bwrap would make them 0700: unreachable for a uid
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", path, path]
    for name, target in _root_links().items():
        args += ["--symlink", target, name]
    args += ["--dev", "/dev", "--proc", "/proc", "--bind", str(base / "work"), SANDBOX_DIR, "--remount-ro", "/", "--chdir", SANDBOX_DIR, "--clearenv"]
    for key, value in _environment(SANDBOX_DIR).items():
        args += ["--setenv", key, value]
    return [*args, "--", *boot, json.dumps(cfg)]


def _environment(home: str) -> dict[str, str]:
    # Nothing from os.environ: API keys and tokens live there.
    return {"PATH": _PATH, "HOME": home, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def _sandbox_uids() -> list[int] | None:
    """As root: two different fresh unprivileged uids, the harness's and the program's."""
    if not _is_root():
        return None
    harness = program = 0
    while harness == program:
        harness, program = (secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0]) + _UID_RANGE[0] for _ in range(2))
    return [harness, program]


def _run(program: str, tests: str, timeout: float, limits: Limits, isolation: str, label: str,
         python: str) -> Verdict:
    base = Path(tempfile.mkdtemp(prefix="evalscope-sandbox-"))
    try:
        return _run_in(base, program, tests, timeout, limits, isolation, label, python)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_in(base: Path, program: str, tests: str, timeout: float, limits: Limits, isolation: str, label: str,
            python: str) -> Verdict:
    work = base / "work"
    work.mkdir()
    (base / "root").mkdir()
    (work / "program.py").write_text(program, encoding="utf-8")
    (base / "tests.json").write_text(json.dumps({"tests": tests}), encoding="utf-8")  # never in the program's view
    uids = _sandbox_uids()
    if uids is not None:
        os.chown(work, uids[1], uids[1])
    token = secrets.token_hex(16)
    read_fd, write_fd = os.pipe()
    tests_fd = os.open(base / "tests.json", os.O_RDONLY)
    cfg: dict[str, object] = {"cwd": str(work), "root": None, "uids": uids, "limits": limits.rlimits(),
                              "status_fd": write_fd, "tests_fd": tests_fd, "guard": isolation == "process",
                              "label": label, "site_packages": _site_packages(),
                              "reply_bytes": max(1 << 20, limits.memory_bytes // 4)}
    command = _command(isolation, base, uids, cfg, python)
    out_path, err_path = base / "stdout", base / "stderr"
    start = time.monotonic()
    try:
        with out_path.open("wb") as out, err_path.open("wb") as err:
            try:
                proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=work,
                                        env=_environment(str(work)), pass_fds=(write_fd, tests_fd),
                                        start_new_session=True)
            except OSError as exc:
                raise SandboxError(f"cannot start the {isolation} sandbox: {exc}") from None
            for fd in (write_fd, tests_fd):
                os.close(fd)
            write_fd = tests_fd = -1
            try:
                assert proc.stdin is not None
                proc.stdin.write(token.encode() + b"\n")  # fits in the pipe: never blocks
                proc.stdin.close()
            except OSError:  # the sandbox died at once; its verdict says why
                pass
            timed_out = _wait(proc, timeout)
        status = _read_status(read_fd)
    finally:
        for fd in (write_fd, tests_fd, read_fd):
            if fd >= 0:
                os.close(fd)
        if uids is not None and isolation == "process":
            for uid in uids:
                _kill_uid(uid)  # children that left the process group (setsid) die too
    duration = time.monotonic() - start
    stdout = clean(_read_capped(out_path, limits.output_bytes))
    stderr = clean(_read_capped(err_path, limits.output_bytes))
    if "started" not in status and not timed_out:
        raise SandboxError(f"the {isolation} sandbox did not start the program (exit status {proc.returncode}): "
                           f"{_last_line(stderr) or 'no output'}")
    status_word, reason = _judge(proc.returncode, timed_out, status, token, stderr, timeout, limits, isolation)
    return Verdict(status_word, clean(reason).replace("\n", "\\n"), isolation, proc.returncode,
                   round(duration, 3), stdout, stderr)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to `timeout` seconds, then kill the whole process group. True when it timed out."""
    try:
        proc.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers too: background children of a finished program
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    return timed_out


def _read_status(fd: int) -> list[str]:
    os.set_blocking(fd, False)
    data = b""
    while len(data) < 1 << 16:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").splitlines()


_KILL = shutil.which("kill", path="/usr/bin:/bin")


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid`: kill(-1) sent as that uid, which the kernel applies atomically."""
    for _ in range(3):
        if _KILL:
            subprocess.run([_KILL, "-s", "KILL", "--", "-1"], user=uid, group=uid, extra_groups=[],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={}, check=False)
        left = [entry for entry in Path("/proc").iterdir() if entry.name.isdigit() and _owner(entry) == uid]
        if not left:
            return
        for entry in left:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue


def _owner(entry: Path) -> int | None:
    try:
        return entry.stat().st_uid
    except OSError:
        return None


def _read_capped(path: Path, limit: int) -> str:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", "replace")
    return text + "\n[... truncated]" if len(data) > limit else text


# C0 and C1 controls but newline and tab, DEL, and the bidirectional overrides: shown, never obeyed by a terminal
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (0x09, 0x0A)}
_CONTROLS.update({c: f"\\u{c:04x}" for c in [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def clean(text: str) -> str:
    """`text` safe to print: control characters (ANSI escapes, carriage returns, ...) written as escapes."""
    return text.translate(_CONTROLS)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and line.strip() != "[... truncated]"]
    return lines[-1][:200] if lines else ""


_SIGNAL_REASONS = {signal.SIGXCPU: "CPU time limit exceeded", signal.SIGXFSZ: "file size limit exceeded",
                   signal.SIGKILL: "killed (SIGKILL)", signal.SIGSEGV: "segmentation fault (SIGSEGV)"}


def _judge(returncode: int | None, timed_out: bool, status: list[str], token: str, stderr: str, timeout: float,
           limits: Limits, isolation: str) -> tuple[str, str]:
    if timed_out:
        return "timeout", f"timed out after {timeout:g}s"
    if token in status and returncode == 0:
        return "passed", "passed"
    reported = _reported(status)
    if reported is not None:
        kind, value = reported
        if kind == "signal":
            return _by_signal(int(value), limits)
        if kind == "exit":
            return "failed", f"exited before the tests finished (exit status {value})"
        if str(value).startswith("MemoryError"):
            return "failed", f"MemoryError (address space limited to {limits.memory_bytes >> 20} MiB)"
        return "failed", str(value)[:300] or "failed"
    signum = _signal_of(returncode, isolation)  # the harness itself died
    if signum is not None:
        return _by_signal(signum, limits)
    last = _last_line(stderr)
    if "MemoryError" in last:
        return "failed", f"MemoryError (address space limited to {limits.memory_bytes >> 20} MiB)"
    return "failed", last or f"exit status {returncode}"


def _reported(status: list[str]) -> tuple[str, object] | None:
    """The harness's own account of a failure: ["signal", n] | ["exit", n] | ["error", line]."""
    for line in status:
        if line.startswith("verdict "):
            try:
                kind, value = json.loads(line[len("verdict "):])
            except (ValueError, TypeError):
                return None
            return str(kind), value
    return None


def _by_signal(signum: int, limits: Limits) -> tuple[str, str]:
    if signum == signal.SIGXCPU:
        return "timeout", f"CPU time limit of {limits.cpu_seconds}s exceeded"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return "crashed", _SIGNAL_REASONS.get(signum, f"killed by {name}")


def _signal_of(returncode: int | None, isolation: str) -> int | None:
    """The signal that ended the harness; under namespaces its death by signal N is exit status 128 + N."""
    if returncode is None:
        return None
    number = -returncode if returncode < 0 else returncode - 128 if isolation != "process" and returncode > 128 else 0
    valid = {s.value for s in signal.Signals}
    return number if number in valid else None
