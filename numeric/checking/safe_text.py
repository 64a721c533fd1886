"""Text that came from a submission (exception messages, prints, its source lines) made safe to show.

Everything a submission prints or raises is under its author's control. Shown raw, it can paint a fake
verdict: ANSI colour codes and cursor moves in a terminal, Markdown headings, fences or bold text in
Gradescope's output. Each output format gets the text through one of these functions:

- ``strip_controls``: every format. Removes ANSI/VT escape sequences, C0 and C1 control characters except
  newline and tab, DEL, and the Unicode bidirectional overrides (which reorder what a reader sees).
- ``one_line``: terminal and Markdown lines: newlines become " ⏎ ", so a message cannot start a line of
  its own that looks like the checker's; capped at ``LINE_LIMIT`` characters.
- ``markdown_escape``: Markdown (Gradescope): every ASCII punctuation character is backslash-escaped
  (CommonMark allows it for all of them), so nothing is a heading, list, emphasis, link, fence or HTML.
- ``code_block``: a fenced block whose fence is longer than any backtick run inside it (CommonMark: the
  block ends only at a fence at least as long), so the text cannot close it.
"""

from __future__ import annotations

import re

_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI: colours, cursor moves, erase line
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"   # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]"                   # two-character sequences
    r"|\x9b[0-?]*[ -/]*[@-~]")          # 8-bit CSI
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def strip_controls(text: str) -> str:
    """``text`` without escape sequences and control characters (newline and tab kept)."""
    if not isinstance(text, str):
        text = str(text)
    return _CONTROLS.sub("", _ESCAPE_SEQUENCE.sub("", text.replace("\r\n", "\n")))


LINE_LIMIT = 2000  # characters of one message shown in the terminal and in Markdown (JSON keeps all)


def one_line(text: str, limit: int = LINE_LIMIT) -> str:
    """``strip_controls``, every line break shown as " ⏎ ", at most ``limit`` characters."""
    line = " ⏎ ".join(strip_controls(text).strip("\n").split("\n"))
    return line if len(line) <= limit else f"{line[:limit]}… ({len(line) - limit} more characters)"


def markdown_escape(text: str) -> str:
    """One line of literal Markdown text: controls stripped, line breaks as " ⏎ ", punctuation escaped."""
    return _PUNCTUATION.sub(r"\\\1", one_line(text))


def code_block(text: str) -> str:
    """``text`` (controls stripped) in a fenced Markdown code block it cannot close."""
    text = strip_controls(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def clean_json(value):
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every string ``strip_controls``-ed."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {strip_controls(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value
