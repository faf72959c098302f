"""The README's examples as data: its fenced code blocks, and how a console block is run and
its shown output checked (used by `tests/test_readme.py`).

A block runs unless the line before its opening fence is `<!-- not-run: reason -->` (a reason is
required). Python blocks (```python) run in order in one namespace. Console blocks (```console,
```sh, ```bash) run their commands in one bash process each: a line starting with `$ ` is a
command (in a ```sh or ```bash block without prompts, every line that is not a comment is one),
and the lines after it, up to the next command, are the output the README shows for it. Shown
output is checked loosely but in order: every shown line must appear, in that order, among the
lines the command printed, after the things that change from run to run (times, durations, the
user's name) are normalised; a line holding `...` stands for lines left out.
"""

from __future__ import annotations

import os
import pty
import re
import select
import struct
import subprocess
import termios
from dataclasses import dataclass, field
from fcntl import ioctl
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

RUN_LANGUAGES = ("python", "console", "sh", "bash")
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(?P<reason>\S.*?)\s*-->$")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
TERMINAL_COLUMNS = 80


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    lang: str
    code: str
    line: int
    """1-based line of the opening fence."""
    not_run: str | None
    """The reason given in a `<!-- not-run: reason -->` marker, or None."""

    @property
    def runs(self) -> bool:
        return self.lang in RUN_LANGUAGES and self.not_run is None


@dataclass
class Command:
    """One console command and the output lines the README shows for it."""

    text: str
    shown: list[str] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """Every fenced block of `text` (a Markdown document), in order."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        previous = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        marker = NOT_RUN.match(previous)
        found.append(
            Block(
                lang=opening["lang"],
                code="\n".join(lines[index + 1 : end]) + "\n",
                line=index + 1,
                not_run=marker["reason"] if marker else None,
            )
        )
        index = end + 1
    return found


def readme_blocks() -> list[Block]:
    return blocks(README.read_text(encoding="utf-8"))


def commands(block: Block) -> list[Command]:
    """The commands of a console block, each with the output the README shows for it."""
    lines = block.code.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    found: list[Command] = []
    for line in lines:
        if prompted:
            if line.startswith("$ "):
                found.append(Command(line[2:]))
            elif found:
                found[-1].shown.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            found.append(Command(line))
    return found


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]")
_VARIABLE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)"), "<TIME>"),
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<N> s"),
    (re.compile(r"\bby \S+ at\b"), "by <USER> at"),
]


def normalised(line: str) -> str:
    """A line with what changes from run to run replaced, and its spacing collapsed."""
    for pattern, replacement in _VARIABLE:
        line = pattern.sub(replacement, line)
    return " ".join(line.split())


def printed_lines(raw: str) -> list[str]:
    """Terminal output as the lines a person sees: colours dropped, and of a line redrawn with
    carriage returns (a progress bar) its last state."""
    text = _ANSI.sub("", raw).replace("\r\n", "\n")
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n")]


def missing_lines(shown: list[str], printed: list[str]) -> list[str]:
    """The shown lines not found, in order, among the printed ones (empty when all are)."""
    wanted = [normalised(line) for line in shown if line.strip() and "..." not in line]
    have = [normalised(line) for line in printed]
    position = 0
    missing: list[str] = []
    for line in wanted:
        try:
            position = have.index(line, position) + 1
        except ValueError:
            missing.append(line)
    return missing


@dataclass
class Ran:
    """What one command of a console block printed (stdout and stderr, as on a terminal) and
    its exit status."""

    command: Command
    printed: list[str]
    status: int


def run_console(block: Block, cwd: Path, env: dict[str, str], timeout: float = 600) -> list[Ran]:
    """Run the block's commands in one bash process on a terminal 80 columns wide, in `cwd`."""
    script_commands = commands(block)
    script = ["set +e"]
    for number, command in enumerate(script_commands):
        script.append(f"printf '\\n@@start {number}@@\\n'")
        script.append(command.text)
        script.append(f"printf '\\n@@end {number} %d@@\\n' $?")
    output = _on_terminal(["bash", "-c", "\n".join(script)], cwd, env, timeout)
    results: list[Ran] = []
    for number, command in enumerate(script_commands):
        start = output.find(f"@@start {number}@@")
        ending = re.search(rf"@@end {number} (\d+)@@", output)
        if start < 0 or ending is None:
            results.append(Ran(command, printed_lines(output[max(start, 0) :]), -1))
            break
        body = output[start + len(f"@@start {number}@@") : ending.start()]
        results.append(Ran(command, printed_lines(body), int(ending[1])))
    return results


def _on_terminal(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    """Run `argv` with stdin, stdout and stderr on a pseudo-terminal; return what it printed."""
    main, terminal = pty.openpty()
    ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, TERMINAL_COLUMNS, 0, 0))
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([main], [], [], timeout)
            if not ready:
                process.kill()
                raise TimeoutError(f"{argv!r} printed nothing for {timeout} s")
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
        process.wait(timeout=timeout)
    return b"".join(chunks).decode("utf-8", "replace")
