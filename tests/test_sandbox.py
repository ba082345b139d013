"""The sandbox for untrusted code: verdicts, the program/harness split (values by data only, no way to
fake a pass), and hostile programs contained at every isolation level that works on this machine
(the others are skipped, with the reason).

Each hostile test checks from the outside that the hostile thing did not happen: a canary file is
unchanged, a loopback listener saw no connection, the parent and a victim process are alive, a
secret placed in the parent's environment and in a victim's is not in the program's output, no
process of the program's is left, a forged pass is judged failed.

As root, the process level refuses an interpreter a fresh uid cannot reach (ours, under /root, is
such); it is then tested with a world-readable interpreter of the same version when there is one."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_evalscope.params import ConfigError
from pytest_evalscope.scoring.sandbox import (
    ISOLATIONS,
    PROBE_FAILURES,
    Limits,
    Verdict,
    available_isolations,
    clean,
    detect_isolation,
    resolve_isolation,
    run_python,
    run_tests,
    strongest_isolation,
    unavailable_reasons,
)

ROOT = os.geteuid() == 0
# a world-readable interpreter of this version, for the process level as root when ours is private
PUBLIC_PYTHON = next((p for p in (f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}",
                                  f"/usr/local/bin/python{sys.version_info[0]}.{sys.version_info[1]}")
                      if os.path.isfile(p) and os.stat(p).st_mode & 0o005 == 0o005), None)


@dataclass(frozen=True)
class Level:
    name: str
    python: str | None = None  # None: this interpreter

    def run(self, code: str, timeout: float = 4.0, label: str = "", **limits: int) -> Verdict:
        return run_python(textwrap.dedent(code), timeout=timeout, isolation=self.name, limits=Limits(**limits),
                          label=label, python=self.python)

    def check(self, program: str, tests: str, timeout: float = 4.0) -> Verdict:
        return run_tests(textwrap.dedent(program), textwrap.dedent(tests), timeout=timeout, isolation=self.name,
                         python=self.python)


@pytest.fixture(params=ISOLATIONS)
def level(request: pytest.FixtureRequest) -> Level:
    name = request.param
    if name in available_isolations():
        return Level(name)
    if name == "process" and PUBLIC_PYTHON and name in available_isolations(PUBLIC_PYTHON):
        return Level(name, PUBLIC_PYTHON)
    pytest.skip(f"{name} isolation is not available here: {unavailable_reasons().get(name)}")


def boundary(level: Level) -> None:
    """Skip where the kernel does not separate the program from us: the process level when not root."""
    if level.name == "process" and not ROOT:
        pytest.skip("not root: at the process level the program runs as our own user; its guard is no boundary")


def run(code: str, level: Level, timeout: float = 4.0, **limits: int) -> Verdict:
    return level.run(code, timeout, **limits)


def unguarded(attack: str, *args: str, wait: bool = True) -> str:
    """A program that runs `attack` in a fresh interpreter, past the process level's audit-hook guard
    (Popen's audit event is raised from Python, where `sys.audit` can be replaced, and
    `_posixsubprocess.fork_exec` raises none); `args` are expressions evaluated by the program, passed
    in sys.argv; `wait=False` starts the attack in a session of its own and loops until the timeout."""
    start = "subprocess.run(command, check=False)" if wait else (
        "subprocess.Popen(command, start_new_session=True)\nwhile True:\n    pass")
    return f"""
import os, subprocess, sys
sys.audit = lambda *args: None
command = [sys.executable, "-c", {textwrap.dedent(attack)!r}, *[str(a) for a in ({", ".join(args)},)]]
{start}
"""


def leftovers(label: str) -> list[int]:
    """Processes still running whose command line carries `label` (only sandboxed programs do)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and label.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process the sandboxed program must not be able to touch, with a secret in its environment."""
    secret = "victim-" + secrets.token_hex(8)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env={"VICTIM_SECRET": secret})
    proc.secret = secret  # type: ignore[attr-defined]
    yield proc
    proc.kill()
    proc.wait()


# ------------------------------------------------------------------ verdicts


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("assert sum([1, 2]) == 3\n", "passed", "passed"),
        ("assert 1 == 2\n", "failed", "AssertionError"),
        ("def f(:\n", "failed", "SyntaxError: invalid syntax"),
        ("raise ValueError('bad value')\n", "failed", "ValueError: bad value"),
        ("import os\nos._exit(0)\nassert False\n", "failed", "exited before the tests finished (exit status 0)"),
        ("import sys\nsys.exit(0)\n", "failed", "exited before the tests finished (exit status 0)"),
        ("import faulthandler\nfaulthandler._sigsegv()\n", "crashed", "segmentation fault (SIGSEGV)"),
    ],
)
def test_verdicts(code: str, status: str, reason: str) -> None:
    verdict = run_python(code, timeout=5)
    assert (verdict.status, verdict.reason) == (status, reason), verdict.stderr
    assert verdict.isolation == detect_isolation(), PROBE_FAILURES
    assert verdict.passed is (status == "passed")


def test_stdin_is_closed_and_output_is_captured_and_truncated(level: Level) -> None:
    verdict = run("""
        import sys
        assert sys.stdin.read() == ""
        print("hello")
        print("x" * 100000)
        sys.stderr.write("warned\\n")
    """, level, output_bytes=1000)
    assert verdict.passed, verdict.stderr
    assert verdict.stdout.startswith("hello\n") and verdict.stdout.endswith("[... truncated]")
    assert len(verdict.stdout) < 1100
    assert verdict.stderr == "warned\n"


def test_program_runs_in_a_fresh_folder_it_may_write(level: Level) -> None:
    code = """
        import os
        assert sorted(os.listdir(".")) == ["program.py"], os.listdir(".")
        with open("scratch.txt", "w") as handle:
            handle.write("ok")
        print(os.getcwd())
    """
    first, second = run(code, level), run(code, level)
    assert first.passed and second.passed, (first.stderr, second.stderr)
    if level.name == "process":
        assert first.stdout != second.stdout  # a new temporary folder each time
    else:
        assert first.stdout.strip() == "/sandbox"


def test_isolation_names_are_checked() -> None:
    available = available_isolations()
    assert set(available) <= set(ISOLATIONS) and list(available) == [i for i in ISOLATIONS if i in available]
    assert strongest_isolation() == (available[0] if available else None)
    assert resolve_isolation("auto") == resolve_isolation(None) == available[0]
    with pytest.raises(ConfigError, match="'docker' is unknown; valid: auto, bwrap, unshare, process"):
        resolve_isolation("docker")
    for missing in set(ISOLATIONS) - set(available):
        with pytest.raises(ConfigError, match=f"sandbox isolation '{missing}' is not available here: .+; available: "):
            resolve_isolation(missing)


def test_process_level_as_root_refuses_an_interpreter_a_fresh_uid_cannot_reach() -> None:
    if not ROOT:
        pytest.skip("not root: the process level runs code as our own user")
    if "process" in available_isolations():
        pytest.skip(f"{sys.executable} is reachable by any uid here")
    with pytest.raises(ConfigError) as info:
        resolve_isolation("process")
    message = str(info.value)
    assert "\n" not in message and os.path.realpath(sys.executable) in message
    assert "cannot reach the interpreter" in message and "mode 0" in message
    assert "install bubblewrap" in message and "world-readable Python" in message and "non-root user" in message


def test_bwrap_is_used_when_installed_and_working() -> None:
    if not any(Path(d, "bwrap").exists() for d in os.environ.get("PATH", "").split(os.pathsep)):
        assert "bwrap" not in available_isolations()
        pytest.skip("bwrap is not installed (apt-get install bubblewrap)")
    if "bwrap" in available_isolations():
        assert detect_isolation() == "bwrap"


# ------------------------------------------------------------------ hostile programs


def test_infinite_loop_is_killed_at_the_timeout(level: Level) -> None:
    start = time.monotonic()
    verdict = run("""
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            pass
    """, level, timeout=1.0)
    assert (verdict.status, verdict.reason) == ("timeout", "timed out after 1s")
    assert time.monotonic() - start < 4


def test_cpu_limit_stops_a_busy_program(level: Level) -> None:
    verdict = run("while True:\n    pass\n", level, timeout=10, cpu_seconds=1)
    assert (verdict.status, verdict.reason) == ("timeout", "CPU time limit of 1s exceeded")


def test_fork_bomb_is_contained(level: Level) -> None:
    label = "forkbomb-" + secrets.token_hex(6)
    code = f"""
        import os, time
        LABEL = {label!r}
        children = 0
        try:
            for _ in range(5000):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
        except Exception as exc:
            print("stopped:", type(exc).__name__)
        print("children", children)
    """
    start = time.monotonic()
    verdict = level.run(code, timeout=5, label=label, processes=32)
    assert time.monotonic() - start < 10
    counts = [int(line.split()[1]) for line in verdict.stdout.splitlines() if line.startswith("children")]
    assert counts and counts[0] < 32, verdict.stdout + verdict.stderr
    assert "stopped:" in verdict.stdout
    time.sleep(0.2)
    assert leftovers(label) == []  # the sleeping children died with the sandbox


def test_huge_allocation_fails_cleanly(level: Level) -> None:
    verdict = run("""
        blocks = []
        for _ in range(64):
            blocks.append(bytearray(256 << 20))
    """, level, memory_bytes=512 << 20)
    assert verdict.status == "failed" and verdict.reason.startswith("MemoryError"), verdict.stderr
    assert run("assert len(bytearray(64 << 20)) == 64 << 20\n", level).passed  # the run goes on


def test_writes_outside_the_sandbox_folder_do_not_happen(level: Level, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("original")
    os.chmod(tmp_path, 0o777)  # even a world-writable folder outside must stay untouched
    created = [tmp_path / "created.txt", Path(f"/tmp/evalscope-escape-{secrets.token_hex(6)}"),
               Path.home() / f"evalscope-escape-{secrets.token_hex(6)}"]
    code = f"""
        import os, shutil
        attempts = [
            lambda: open({str(canary)!r}, "w").write("pwned"),
            lambda: os.remove({str(canary)!r}),
            lambda: os.rename({str(canary)!r}, {str(canary)!r} + ".moved"),
            lambda: shutil.rmtree({str(tmp_path)!r}),
        ] + [lambda p=p: open(p, "w").write("pwned") for p in {[str(p) for p in created]!r}]
        for attempt in attempts:
            try:
                attempt()  # under namespaces /tmp is the sandbox's own: a write there may succeed
            except Exception:
                pass
    """
    verdict = run(code, level)
    assert verdict.passed, verdict.stderr
    assert canary.read_text() == "original"
    assert [p for p in created if p.exists()] == []


def test_network_access_does_not_reach_a_loopback_listener(level: Level) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        verdict = run(f"""
            import socket
            try:
                with socket.create_connection(("127.0.0.1", {port}), timeout=1) as conn:
                    conn.sendall(b"exfiltrated")
                print("connected")
            except OSError as exc:
                print("refused:", type(exc).__name__)
        """, level)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert accepted == []
    assert verdict.passed and "refused:" in verdict.stdout, verdict.stdout + verdict.stderr


def test_killing_the_parent_or_another_process_does_not_happen(level: Level, victim: subprocess.Popen[bytes]) -> None:
    verdict = run(f"""
        import os, signal
        for attempt in (lambda: os.kill(os.getppid(), signal.SIGKILL),
                        lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL),
                        lambda: os.kill({os.getpid()}, signal.SIGKILL),
                        lambda: os.killpg({os.getpgid(0)}, signal.SIGKILL),
                        lambda: os.kill({victim.pid}, signal.SIGKILL)):
            try:
                attempt()
            except Exception as exc:
                print("blocked:", type(exc).__name__)
    """, level)
    assert victim.poll() is None  # the victim is alive, and so are we
    os.kill(os.getpid(), 0)
    assert verdict.status in ("passed", "crashed"), verdict.stderr  # killing its own namespace's init is its business


def test_killing_past_the_guard_does_not_happen(level: Level, victim: subprocess.Popen[bytes]) -> None:
    boundary(level)
    verdict = run(unguarded("""
        import os, sys
        for pid in map(int, sys.argv[1:]):
            try:
                os.kill(pid, 9)
                print("killed", pid)
            except OSError as exc:
                print("denied", pid, type(exc).__name__)
    """, str(victim.pid), str(os.getpid()), f"-{os.getpgid(0)}"), level)
    assert victim.poll() is None  # the victim is alive, and so are we
    os.kill(os.getpid(), 0)
    assert verdict.passed, verdict.stderr
    assert [line.split()[0] for line in verdict.stdout.splitlines()] == ["denied"] * 3, verdict.stdout


def test_a_setsid_child_dies_at_the_timeout(level: Level) -> None:
    boundary(level)
    label = "setsid-" + secrets.token_hex(6)
    verdict = run(unguarded("import time\ntime.sleep(60)\n", repr(label), wait=False), level, timeout=2)
    assert verdict.status == "timeout", verdict.stderr
    deadline = time.monotonic() + 10
    while leftovers(label) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers(label) == []


def test_ptrace_and_proc_of_the_harness_and_of_us_are_denied(level: Level, victim: subprocess.Popen[bytes]) -> None:
    """PTRACE_ATTACH, /proc/<pid>/mem, environ and fd of the harness (the program's parent), of the
    evaluating process and of a victim: all refused by the kernel, past the guard."""
    boundary(level)
    verdict = run(unguarded("""
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        for pid in map(int, sys.argv[1:]):
            if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
                print("traced", pid)
                libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
            else:
                print("denied ptrace", pid, os.strerror(ctypes.get_errno()))
            for name in ("mem", "environ", "fd/0", "fd/3", "fd/4", "fd/5"):
                try:
                    with open("/proc/%d/%s" % (pid, name), "rb") as handle:
                        handle.read(1)
                    print("read", pid, name)
                except OSError as exc:
                    print("denied", name, pid, exc.strerror)
    """, "os.getppid()", str(os.getpid()), str(victim.pid)), level)
    assert verdict.passed, verdict.stderr
    lines = verdict.stdout.splitlines()
    assert len(lines) == 3 * 7 and all(line.startswith("denied") for line in lines), verdict.stdout
    for pid in (os.getpid(), victim.pid):
        tracer = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("TracerPid")]
        assert tracer == ["TracerPid:\t0"]
    assert victim.poll() is None


def test_environment_secrets_are_not_visible(level: Level, victim: subprocess.Popen[bytes],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "parent-" + secrets.token_hex(8)
    monkeypatch.setenv("EVALSCOPE_TEST_SECRET", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    verdict = run(f"""
        import os
        print(dict(os.environ))
        for pid in ("self", str(os.getppid()), "1", "{os.getpid()}", "{victim.pid}"):
            try:
                with open("/proc/%s/environ" % pid, "rb") as handle:
                    print(handle.read())
            except Exception as exc:
                print("unreadable:", pid, type(exc).__name__)
    """, level)
    assert verdict.passed, verdict.stderr
    output = verdict.stdout + verdict.stderr
    assert secret not in output and victim.secret not in output  # type: ignore[attr-defined]
    assert "EVALSCOPE_TEST_SECRET" not in output


# the interpreter's own folder is visible (a virtualenv may live inside the repository); the rest is not
REPO_README = Path(__file__).resolve().parents[1] / "README.md"


def test_host_files_are_not_visible_under_namespaces(level: Level, tmp_path: Path) -> None:
    if level.name == "process":
        pytest.skip("the process level does not hide the file system: it relies on permissions only")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("host-secret")
    verdict = run(f"""
        import os
        print(sorted(os.listdir("/")))
        print(os.path.exists({str(secret_file)!r}), os.path.exists("/etc/passwd"), os.path.exists({str(REPO_README)!r}))
    """, level)
    assert verdict.passed, verdict.stderr
    assert "host-secret" not in verdict.stdout
    assert verdict.stdout.splitlines()[1] == "False False False"


def test_the_program_holds_no_privileges_when_we_are_root(level: Level) -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: the program runs as our own user")
    verdict = run("""
        import os
        status = open("/proc/self/status").read() if os.path.exists("/proc/self/status") else ""
        caps = [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")]
        print(os.getuid(), caps)
    """, level)
    if level.name == "process":  # its guard refuses /proc
        verdict = run("import os\nprint(os.getuid(), os.geteuid(), os.getgid())\n", level)
        assert verdict.passed and min(map(int, verdict.stdout.split())) >= 1 << 20, verdict.stdout + verdict.stderr
        return
    assert verdict.passed, verdict.stderr
    uid, caps = verdict.stdout.split(" ", 1)
    assert int(uid) >= 1 << 20 and caps.strip() == "['0000000000000000']"


def test_killpg_of_its_own_group_ends_at_most_the_sandbox(level: Level) -> None:
    verdict = run("import os, signal\nos.killpg(0, signal.SIGKILL)\n", level)
    expected = ("crashed", "killed (SIGKILL)")
    if level.name == "process":
        expected = ("failed", "PermissionError: sandbox: os.killpg is not allowed")
    assert (verdict.status, verdict.reason) == expected, verdict.stderr
    assert run("pass\n", level).passed



# ------------------------------------------------------------------ the program and the harness

FORGE = """
import sys
m = sys.modules['__main__']
m.status.write(m.token + '\\n'); m.status.flush()
import os; os._exit(0)
"""


def test_a_forged_pass_fails(level: Level) -> None:
    """The bootstrap's token and status pipe are not in the program's process: forging fails."""
    assert not level.run(FORGE + "assert False\n").passed
    verdict = level.check("def add(a, b):\n    return 0\n" + FORGE, "assert add(1, 2) == 3\n")
    assert verdict.status == "failed", verdict.stderr


def test_the_program_cannot_find_the_token_anywhere(level: Level) -> None:
    """Past the guard, from the program and from a fresh interpreter: its own memory holds no token,
    and the harness's status pipe, memory and stdin are out of reach; whatever it writes, it fails."""
    program = unguarded("""
        import os, sys
        harness = int(sys.argv[1])
        for fd in range(3, 64):
            for target in ("/proc/%d/fd/%d" % (harness, fd), "/proc/self/fd/%d" % fd):
                try:
                    with open(target, "w") as handle:
                        handle.write("started\\n" + "0" * 32 + "\\n")
                    print("wrote", target)
                except OSError:
                    pass
    """, "os.getppid()") + textwrap.dedent("""
        import gc, re
        found = [o for o in gc.get_objects() if isinstance(o, str) and re.fullmatch("[0-9a-f]{32}", o)]
        print("tokens in memory:", len(found))
        def add(a, b):
            return 0
    """)
    verdict = level.check(program, "assert add(1, 2) == 3\n")
    assert verdict.status == "failed" and verdict.reason == "AssertionError", verdict.stderr
    assert "tokens in memory: 0" in verdict.stdout and "wrote /proc/" not in verdict.stdout, verdict.stdout


def test_an_object_equal_to_everything_fails(level: Level) -> None:
    program = """
        class Anything:
            def __eq__(self, other):
                return True
        class Number(int):
            def __eq__(self, other):
                return True
        def anything():
            return Anything()
        def number():
            return Number(7)
    """
    lie = level.check(program, "assert anything() == 42\n")
    assert (lie.status, lie.reason) == ("failed", "the program returned a Anything value, which cannot be sent to the tests")
    assert level.check(program, "assert number() == 42\n").reason == "AssertionError"  # sent as the int it is
    assert level.check(program, "assert number() == 7 and type(number()) is int\n").passed


@pytest.mark.parametrize("patch", [
    "import math\nmath.isclose = lambda *args, **kwargs: True\n",
    "import builtins\nbuiltins.sorted = lambda obj, **kwargs: [1, 3]\n",
    "import builtins\nbuiltins.AssertionError = type('Nothing', (Exception,), {})\n",
    "import builtins\nbuiltins.len = lambda obj: 3\n",  # breaks the program's own side of the pipes: it fails
])
def test_monkeypatched_builtins_stay_in_the_program(level: Level, patch: str) -> None:
    tests = """
        import math
        assert math.isclose(sum(f()), 5.0)
        assert sorted(f()) == [1, 3]
        assert len(f()) == 3
    """
    assert level.check("def f():\n    return [3, 1]\n", tests).reason == "AssertionError"
    verdict = level.check(patch + "def f():\n    return [3, 1]\n", tests)
    assert verdict.status == "failed", verdict.stderr


VALUES = ('[None, True, False, 0, -7, 10 ** 5000, -(2 ** 521), 1.5, -0.0, float("inf"), float("-inf"), 3 - 4j, "", '
          '"naïve \\u2028 \\ud800?", b"\\x00\\xff", [1, [2, (3,)]], (), (1, "a", None), {"a": 1, (1, 2): [3]}, '
          '{1, "x", (2, 3)}, frozenset({frozenset({1})})]')


def test_values_cross_by_data_with_their_types(level: Level) -> None:
    program = """
        class Text(str):
            pass
        class Mapping(dict):
            pass
        def echo(value):
            return value
        def sub():
            return [Text("a"), Mapping(b=[1]), True, 2 ** 100]
        def nan():
            return float("nan")
        def poly(xs, x):
            return sum(c * x ** i for i, c in enumerate(xs))
    """
    tests = f"""
        import math
        values = {VALUES}
        for value in values:
            back = echo(value)
            assert back == value and type(back) is type(value), (value, back)
        assert math.copysign(1.0, echo(-0.0)) == -1.0 and math.isnan(nan())
        assert echo(value=[1]) == [1]
        assert [type(v) for v in sub()] == [str, dict, bool, int] and sub() == ["a", {{"b": [1]}}, True, 2 ** 100]
        def check(candidate):
            assert poly([1, 2], candidate(3)) == 7
        check(echo)
    """
    verdict = level.check(program, tests)
    assert verdict.passed, verdict.stderr


@pytest.mark.parametrize(
    ("tests", "reason"),
    [
        ("assert f(0) == 1\n", "ValueError: bad input"),  # an exception of the program's raises in the tests
        ("try:\n    f(0)\nexcept ValueError as exc:\n    assert str(exc) == 'bad input'\nelse:\n    assert False\n",
         "passed"),
        ("assert mine(0)\n", "Mine: its own"),  # not a builtin: raised as an error that names it
        ("assert stop(0)\n", "StopIteration"),  # never a StopIteration here: it would end the tests' loop early
        ("assert all(map(stop, [1, 2]))\n", "StopIteration"),
        ("assert gen() == [0]\n", "the program returned a generator value, which cannot be sent to the tests"),
        ("try:\n    gen()\nexcept BaseException:\n    pass\n",
         "the program returned a generator value, which cannot be sent to the tests"),  # swallowed, still failed
        ("try:\n    quit_now()\nexcept BaseException:\n    pass\nassert f(1) == 1\n",
         "exited before the tests finished (exit status 0)"),  # its end fails every later call and the run
        ("assert cycle()\n", "the program returned a list value, which cannot be sent to the tests"),
        ("assert undefined_name()\n", "NameError: name 'undefined_name' is not defined"),
    ],
)
def test_calls_into_the_program(tests: str, reason: str) -> None:
    program = """
        import os
        class Mine(Exception):
            pass
        def f(x):
            if not x:
                raise ValueError("bad input")
            return x
        def mine(x):
            raise Mine("its own")
        def stop(x):
            raise StopIteration
        def gen():
            return (i for i in range(1))
        def quit_now():
            os._exit(0)
        def cycle():
            loop = []
            loop.append(loop)
            return loop
    """
    verdict = run_tests(textwrap.dedent(program), tests, timeout=10)
    assert verdict.reason.startswith(reason), (verdict.reason, verdict.stderr)
    assert verdict.passed is (reason == "passed")


def test_control_characters_are_escaped() -> None:
    verdict = run_python("import sys\nprint('\\x1b[31mred\\x1b[0m\\r\\u202e')\nsys.stderr.write('\\x1b[2J\\x07')\n"
                         "raise ValueError('\\x1b]0;title\\x07 \\x9b1m bad\\nline')\n", timeout=10)
    assert verdict.reason == "ValueError: \\x1b]0;title\\x07 \\x9b1m bad\\nline", verdict.stderr
    assert verdict.stdout == "\\x1b[31mred\\x1b[0m\\x0d\\u202e\n"
    assert verdict.stderr.startswith("\\x1b[2J\\x07")
    for text in (verdict.reason, verdict.stdout, verdict.stderr):
        assert not any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) < 0xA0 for c in text)
    assert clean("tab\tnew\nline\x1b") == "tab\tnew\nline\\x1b"


def test_tmp_is_mounted_before_the_interpreter_so_a_venv_under_tmp_stays_visible(tmp_path: Path) -> None:
    """A virtualenv under /tmp (a CI checkout there) was hidden by the sandbox's own /tmp mount: bwrap
    could not exec the interpreter and the unshare bootstrap failed making /tmp. The tmpfs now comes first."""
    from pytest_evalscope.scoring import sandbox

    args = sandbox._command("bwrap", tmp_path, None, {}, sys.executable)
    tmpfs = args.index("--tmpfs")
    binds = [i for i, a in enumerate(args) if a == "--ro-bind"]
    assert args[tmpfs + 1] == "/tmp" and binds and tmpfs < min(binds)
    boot = sandbox.BOOT
    assert boot.index('mount("tmpfs", new + "/tmp"') < boot.index('for path in spec["ro"]:')
