"""The pipe pair between the checker and the child: framing, request encoding and the strict decoder.

Frame (both directions): 4-byte big-endian length + payload; payload = 4-byte header length + JSON
header + concatenated array blobs. The parent trusts nothing in a reply but raw array bytes:

- a reply is decoded into arrays, lists/tuples/dicts (string keys) of them, cache handles and None;
  anything else — a string, a bool, an object — is :class:`Other`, a wrong output and never a signal;
- arrays must tile the blob in order (each starts where the previous ended), so no two nodes alias and
  the decoded bytes never exceed the reply's size (itself capped);
- any malformed reply is a :class:`ProtocolError` (a failed call), never an exception of the checker.
"""

from __future__ import annotations

import json
import os
import re
import select
import time

import numpy as np

from numeric.checking.sandbox.text import display_text
from numeric.checking.sandbox.values import Handle, Other

MAX_REPLY = 96 * 2**20  # bytes of one reply (arrays included)
MAX_HEADER = 2 * 2**20  # bytes of its JSON header
MAX_DEPTH = 16
MAX_NODES = 20_000
MAX_NDIM = 32
SAFE_KINDS = frozenset("fciub")
# error types only the checker may set: a child reporting one of them is relabelled
RESERVED_ERRORS = ("Timeout", "ProcessDied", "MissingFunction", "LoadFailed", "ProtocolError", "BudgetSpent",
                   "StaleCache")


class ProtocolError(Exception):
    """A reply that does not follow the protocol (the call fails; the child is restarted)."""


class ChannelTimeout(Exception):
    """No complete reply before the deadline."""


class ChannelClosed(Exception):
    """The child closed its end (it died)."""


# ---------------------------------------------------------------------------------------------- framing

def write_frame(fd: int, payload: bytes, deadline: float | None = None) -> None:
    """Write one frame. With a deadline the descriptor must be non-blocking: a child that stops reading
    (a hostile one replaces os.read) makes this raise ChannelTimeout instead of blocking the checker."""
    view = memoryview(len(payload).to_bytes(4, "big") + payload)
    while view:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise ChannelTimeout
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            continue


def pack(header: dict, blobs=()) -> bytes:
    head = json.dumps(header).encode()
    return len(head).to_bytes(4, "big") + head + b"".join(blobs)


def read_frame(fd: int, deadline: float) -> bytes:
    """One frame's payload. Raises ChannelTimeout, ChannelClosed, or ProtocolError (oversized)."""
    size = int.from_bytes(_read_exact(fd, 4, deadline), "big")
    if size > MAX_REPLY:
        raise ProtocolError(f"reply of {size} bytes exceeds the limit of {MAX_REPLY}")
    return _read_exact(fd, size, deadline)


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks = []
    while n:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise ChannelTimeout
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise ChannelClosed
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- requests

class StaleHandle(Exception):
    """A cache handle from a child process that has since been restarted."""


def encode(value, blobs: list[bytes], generation: int) -> dict:
    """A request argument → a JSON node (arrays appended to ``blobs``). Trusted input: the checker's own."""
    if isinstance(value, Handle):
        if value.generation != generation:
            raise StaleHandle
        return {"t": "ref", "id": value.ident}
    if isinstance(value, str) and value == "<student>":
        return {"t": "module", "name": "student"}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.array(value, order="C", copy=True)  # keeps 0-d arrays 0-d
        offset = sum(len(b) for b in blobs)
        blobs.append(arr.tobytes())
        return {"t": "array", "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset,
                "nbytes": arr.nbytes}
    if isinstance(value, (list, tuple)):
        return {"t": type(value).__name__, "items": [encode(v, blobs, generation) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "items": [[k, encode(v, blobs, generation)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"t": "scalar", "v": value}
    raise TypeError(f"cannot send {type(value).__name__} to the sandbox")


# ---------------------------------------------------------------------------------------------- replies

def decode_reply(payload: bytes, token: str, generation: int, expect: str = "call") -> dict:
    """Check and decode one reply.

    Args:
        payload: the frame's payload as read from the pipe (untrusted).
        token: this run's token; a reply without it is refused.
        generation: the child process's number (for cache handles).
        expect: "call" (a value and mutated arguments), "load" (notes) or "ready".

    Returns:
        {"ok": True, "value", "mutated"} / {"ok": True, "notes"} / {"ok": False, "error"}.

    Raises:
        ProtocolError: for anything malformed (caught here whatever the reason).
    """
    try:
        return _decode_reply(payload, token, generation, expect)
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed reply is the child's failure, never ours
        raise ProtocolError(f"malformed reply ({type(exc).__name__})") from None


def _decode_reply(payload: bytes, token: str, generation: int, expect: str) -> dict:
    if len(payload) < 4:
        raise ProtocolError("reply shorter than its header length")
    hlen = int.from_bytes(payload[:4], "big")
    if hlen > MAX_HEADER or 4 + hlen > len(payload):
        raise ProtocolError("reply header length out of range")
    header = json.loads(payload[4:4 + hlen].decode("utf-8"))
    if not isinstance(header, dict) or header.get("token") != token:
        raise ProtocolError("a reply without this run's token")
    ok = header.get("ok")
    if ok is False:
        return {"ok": False, "error": _student_error(header.get("error"))}
    if ok is not True:
        raise ProtocolError("a reply that is neither a result nor an error")
    if expect == "ready":
        return {"ok": True}
    if expect == "load":
        notes = header.get("notes", [])
        if not isinstance(notes, list):
            raise ProtocolError("load notes are not a list")
        return {"ok": True, "notes": [display_text(n, 300) for n in notes[:50] if isinstance(n, str)]}
    decoder = _Decoder(memoryview(payload)[4 + hlen:], generation)
    value = decoder.node(header.get("value", {"t": "none"}), 0)
    mutated = {}
    pairs = header.get("mutated", [])
    if not isinstance(pairs, list):
        raise ProtocolError("mutated is not a list")
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int):
            raise ProtocolError("a malformed mutated entry")
        mutated[pair[0]] = decoder.node(pair[1], 0)
    return {"ok": True, "value": value, "mutated": mutated}


def _student_error(err) -> dict:
    """The child's error report: display text only, capped; a reserved type is relabelled."""
    if not isinstance(err, dict):
        err = {}
    out = {k: display_text(err.get(k, ""), 4000) for k in ("type", "message", "where", "traceback")}
    kind = out["type"]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,99}", kind) or (
            kind in RESERVED_ERRORS and kind != "MissingFunction") or kind.startswith("LoadFailed"):
        kind = "Exception"
    out["type"] = kind
    return out


class _Decoder:
    def __init__(self, blob: memoryview, generation: int):
        self.blob, self.generation = blob, generation
        self.cursor = 0  # arrays must tile the blob in order: no aliasing, no gaps, no re-use
        self.nodes = 0

    def node(self, node, depth: int):
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise ProtocolError("reply nested too deeply or too many values")
        if not isinstance(node, dict):
            raise ProtocolError("a value node that is not an object")
        t = node.get("t")
        if t == "array":
            return self.array(node)
        if t in ("list", "tuple"):
            items = node.get("items")
            if not isinstance(items, list):
                raise ProtocolError("a sequence without items")
            values = [self.node(i, depth + 1) for i in items]
            return values if t == "list" else tuple(values)
        if t == "dict":
            items = node.get("items")
            if not isinstance(items, list):
                raise ProtocolError("a dict without items")
            out = {}
            for pair in items:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise ProtocolError("a malformed dict entry")
                out[display_text(pair[0], 100)] = self.node(pair[1], depth + 1)
            return out
        if t == "handle":
            ident = node.get("id")
            if type(ident) is not int:
                raise ProtocolError("a cache handle without an integer id")
            return Handle(ident, self.generation)
        if t == "none":
            return None
        kind = node.get("type", t)
        return Other(display_text(kind, 100) if isinstance(kind, str) else "object")

    def array(self, node: dict):
        dtype = np.dtype(_plain_str(node.get("dtype")))
        shape = node.get("shape")
        offset, nbytes = node.get("offset"), node.get("nbytes")
        if not (isinstance(shape, list) and len(shape) <= MAX_NDIM and all(type(s) is int and 0 <= s < 2**40
                                                                          for s in shape)):
            raise ProtocolError("an array with a malformed shape")
        if type(offset) is not int or type(nbytes) is not int:
            raise ProtocolError("an array with a malformed offset or size")
        if offset != self.cursor:
            raise ProtocolError("array data overlaps or skips (aliasing nodes are refused)")
        count = 1
        for s in shape:
            count *= s
        if count * dtype.itemsize != nbytes or offset + nbytes > len(self.blob):
            raise ProtocolError("array size does not match its data")
        self.cursor += nbytes
        if dtype.kind not in SAFE_KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype:
            return Other(f"array of dtype {dtype}")
        arr = np.frombuffer(self.blob[offset:offset + nbytes], dtype=dtype, count=count).reshape(shape).copy()
        return arr[()] if node.get("scalar") is True and arr.ndim == 0 else arr


def _plain_str(value) -> str:
    if not isinstance(value, str) or len(value) > 8:
        raise ProtocolError("an array with a malformed dtype")
    return value


def differs(sent, back) -> bool:
    """Whether an argument came back changed (the child's claim, re-checked against what was sent)."""
    if isinstance(sent, np.ndarray):
        return not (isinstance(back, np.ndarray) and back.shape == sent.shape
                    and np.array_equal(back, sent, equal_nan=True))
    if isinstance(sent, dict):
        return not isinstance(back, dict) or any(differs(v, back.get(k)) for k, v in sent.items())
    if isinstance(sent, (list, tuple)):
        return not isinstance(back, (list, tuple)) or len(back) != len(sent) or any(
            differs(a, b) for a, b in zip(sent, back))
    return False
