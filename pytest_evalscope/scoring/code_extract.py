"""The code in a model's reply, and the HumanEval program built from it.

EvalScope takes the first fenced block (```` ```python ... ``` ````) or, with no fence, the whole
reply, and runs ``prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"``. That one
concatenation serves both shapes a reply comes in, because the prompt ends with a signature and a
docstring (a complete function on its own):

- a continuation (the function's body only) completes the prompt's function;
- a full definition (often with its own imports) redefines the function after the prompt's.

We run its two halves apart (`build_check`): the program, ``prompt + completion``, in the sandbox's
untrusted process, and the tests, ``test + check(entry_point)``, in its trusted harness.

On top of EvalScope's rule: `<think>` blocks are dropped first; a fenced block tagged as another
language is passed over for a Python or untagged one; an unclosed fence (a truncated reply) still
yields its code; prose before unfenced code is skipped when the whole reply does not parse; and a
body written at column 0 is indented under the prompt's signature when that is what makes it parse.
"""

from __future__ import annotations

import re
import textwrap

from .numeric import split_reasoning

PYTHON_TAGS = ("", "python", "python3", "py", "py3")
# The info string after a fence's backticks is bounded: unbounded, a reply of nothing but backticks made
# every fence scan to the end of the text and back (quadratic; a 1 MB reply cost minutes).
_FENCE = re.compile(r"```[ \t]*([\w+#.-]{0,40})[^\n]{0,200}\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@|if __name__)")


def extract_code(reply: str) -> str:
    """The code a reply gives: the first Python (or untagged) fenced block, else the reply itself."""
    text, _ = split_reasoning(reply or "", unclosed_is_reasoning=True)  # thinking cut off is no code
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    if blocks:
        chosen = next((body for tag, body in blocks if tag in PYTHON_TAGS), blocks[0][1])
        return _trim(chosen)
    code = _trim(text)
    if code and not _parses(code):
        lines = code.splitlines()
        start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
        if start:
            return _trim("\n".join(lines[start:]))
    return code


def is_full_definition(code: str, entry_point: str) -> bool:
    """Whether `code` defines `entry_point` at module level (rather than continuing the prompt)."""
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def completion_for(prompt: str, code: str, entry_point: str) -> str:
    """`code` made to follow `prompt`: as it is, or as an indented body when only that parses."""
    if not code.strip() or is_full_definition(code, entry_point) or _parses(prompt + code):
        return code
    indented = textwrap.indent(textwrap.dedent(code), "    ")
    return indented if _parses(prompt + indented) else code


def build_check(prompt: str, code: str, test: str, entry_point: str) -> tuple[str, str]:
    """EvalScope's check program in its two halves: the program (prompt and completion, untrusted) and
    the tests (the test's `check` and the call to it, trusted)."""
    completion = completion_for(prompt, code, entry_point)
    separator = "" if prompt.endswith("\n") else "\n"
    return f"{prompt}{separator}{completion}\n", f"{test}\ncheck({entry_point})\n"


def build_program(prompt: str, code: str, test: str, entry_point: str) -> str:
    """EvalScope's check program as one script: prompt, completion, the test's `check`, and the call to it."""
    return "".join(build_check(prompt, code, test, entry_point))


def _trim(text: str) -> str:
    """Drop leading and trailing blank lines, keeping the first line's indentation (a body's)."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + ("\n" if lines else "")


def _parses(source: str) -> bool:
    try:
        compile(source, "<completion>", "exec", dont_inherit=True)
    except Exception:  # SyntaxError, and ValueError/RecursionError/MemoryError on pathological input
        return False
    return True


# ---------------------------------------------------------------- MBPP and LiveCodeBench

# EvalScope's fence (`extract_code_from_freeform_completion`): the tag is the rest of the opening line and
# the block ends at a newline, optional whitespace and three backticks; the tag is bounded here (see _FENCE).
_FREEFORM_FENCE = re.compile(r"```([^\n]{0,200})\n(.*?)\n\s*```", re.DOTALL)
_FREEFORM_OPEN = re.compile(r"```[^\n]{0,200}\n(.*)", re.DOTALL)
_HEURISTIC_DEF = re.compile(r"(?:^(?:import|from|#)[^\n]+\n)*^(?:def|class) [^\n]+\n(?:\s+[^\n]+\n)+", re.MULTILINE)
_MAIN_GUARD = 'if __name__ == "__main__":'
MBPP_STOP_WORDS = ("\nassert", '\n"""')


def extract_freeform(reply: str) -> str:
    """The code of a reply as EvalScope's MBPP and MBPP+ read it: the text before `[DONE]`; the first
    complete fenced block of any language, else an unclosed one, else the first top-level `def` or
    `class` with its body (and the imports and comments above it); carriage returns dropped; cut at a
    `if __name__ == "__main__":` guard and at `# Example usage`; then cut at the first line that starts
    with `assert` or `\"\"\"` (the prompt's tests, echoed)."""
    text = reply or ""
    if "[DONE]" in text:
        text = text[: text.index("[DONE]")]
    blocks = [body for _tag, body in _FREEFORM_FENCE.findall(text)]
    if not blocks:
        blocks = _FREEFORM_OPEN.findall(text)
    if not blocks:
        lines = "\n".join(line for line in text.split("\n") if line.strip()) + "\n"
        match = _HEURISTIC_DEF.search(lines)
        blocks = [match.group(0)] if match else []
    code = blocks[0].replace("\r", "") if blocks else ""
    for marker in (_MAIN_GUARD, "# Example usage"):
        if marker in code:
            code = code[: code.index(marker)].strip()
    for stop in MBPP_STOP_WORDS:
        if stop in code:
            code = code[: code.index(stop)]
    return code


def extract_last_fenced(reply: str) -> str:
    """LiveCodeBench's rule: the lines between the last two lines that hold three backticks, else nothing."""
    lines = (reply or "").split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1: fences[-1]])
