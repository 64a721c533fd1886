"""Text from the child made safe to display (parent side): the one place student strings cross the boundary.

Every string the child can choose — exception type, message, place and traceback, load notes, the type
name of a wrong output, dict keys, its stdout and stderr — passes through :func:`display_text` before the
checker keeps it. Terminal escape sequences (7-bit ESC and 8-bit C1 forms), other control characters,
bidirectional overrides and line separators are what forge a "PASS" line in a terminal or hide text in a
report; they are removed here so that no writer has to remember to. Markdown escaping is the writers' job
(it depends on the output format).
"""

from __future__ import annotations

import re
import unicodedata

# ESC or 8-bit CSI/OSC/DCS/… with its parameters: removed whole, so no "[2J" residue is left behind
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"            # CSI
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])"     # OSC, DCS, SOS, PM, APC …
    r"[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"         # … up to their terminator
    r"|\x1b[ -/]*[0-~]?")                            # any other escape
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")


def display_text(value: object, limit: int | None = None) -> str:
    """``value`` as text fit for a terminal, JSON or Markdown report: no control or format characters.

    Args:
        value: anything the child sent (converted with ``str``).
        limit: keep at most this many characters (after cleaning).

    Returns:
        The text with escape sequences removed, CR/LS/PS made newlines, and every other control (Cc), format
        (Cf: bidi overrides, zero-width characters), surrogate or private-use character dropped; newline
        and tab are kept.
    """
    text = _NEWLINES.sub("\n", _SEQUENCE.sub("", str(value)))
    if not text.isprintable():  # the common case (plain ASCII) skips the per-character pass
        text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co"))
    return text if limit is None else text[:limit]
