"""What crosses between the trusted test process and the subject process: plain data only.

A message is one frame: an 8-byte header (two big-endian uint32: the JSON part's length,
then the raw part's length), a UTF-8 JSON document, and raw bytes that tensors and arrays
point into.  Nothing is ever unpickled, evaluated or imported on receipt: the decoder
builds only ``None``, bools, ints, floats, strings, lists, tuples, string-keyed dicts,
``bytes``, NumPy arrays and torch tensors (from a fixed list of numeric dtypes, copied out
of the frame).  Sizes, nesting and element counts are bounded, and anything else is a
``WireError`` that the receiver turns into the candidate's failure.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

MAX_FRAME_BYTES = 256 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
_HEADER = struct.Struct(">II")

# torch dtype name -> (NumPy dtype the bytes are read as, bytes per element)
_DTYPES = {
    "bool": "|b1",
    "uint8": "|u1",
    "int8": "|i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
    "float16": "<f2",
    "bfloat16": "<i2",  # NumPy has no bfloat16: carried as its bit pattern
    "float32": "<f4",
    "float64": "<f8",
    "complex64": "<c8",
    "complex128": "<c16",
}
_NUMPY_KINDS = {"b", "u", "i", "f", "c"}


class WireError(Exception):
    """A message that is malformed, too large, or holds a value that cannot cross."""


class _Encoder:
    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.offset = 0
        self.items = 0

    def blob(self, data: bytes) -> list[int]:
        start = self.offset
        self.blobs.append(data)
        self.offset += len(data)
        return [start, len(data)]

    def encode(self, value: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("the value is nested too deeply or has too many items")
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            if not -(2**63) <= value < 2**64:
                raise WireError(f"an integer out of range: {value:.3e}")
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, list | tuple):
            items = [self.encode(v, depth + 1) for v in value]
            return items if isinstance(value, list) else {"$tuple": items}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise WireError("a dict with keys that are not strings")
            return {"$dict": {k: self.encode(v, depth + 1) for k, v in value.items()}}
        if isinstance(value, bytes | bytearray):
            return {"$bytes": self.blob(bytes(value))}
        return self.encode_array(value)

    def encode_array(self, value: Any) -> Any:
        kind = type(value).__module__.split(".")[0]
        if kind == "torch":
            import torch

            if isinstance(value, torch.Tensor):
                tensor = value.detach().cpu().contiguous()
                name = str(tensor.dtype).removeprefix("torch.")
                if name not in _DTYPES:
                    raise WireError(f"a tensor of dtype {name}, which cannot cross")
                bits = tensor.view(torch.int16) if name == "bfloat16" else tensor
                data = bits.numpy().tobytes()
                return {
                    "$tensor": {
                        "dtype": name,
                        "shape": list(tensor.shape),
                        "data": self.blob(data),
                        "requires_grad": bool(value.requires_grad),
                    }
                }
            if isinstance(value, torch.dtype):
                return {"$torch_dtype": str(value).removeprefix("torch.")}
        if kind == "numpy":
            import numpy as np

            if isinstance(value, np.ndarray):
                if value.dtype.kind not in _NUMPY_KINDS or value.dtype.hasobject:
                    raise WireError(f"an array of dtype {value.dtype}, which cannot cross")
                array = np.ascontiguousarray(value)
                return {
                    "$ndarray": {
                        "dtype": array.dtype.newbyteorder("<").str,
                        "shape": list(array.shape),
                        "data": self.blob(array.astype(array.dtype.newbyteorder("<")).tobytes()),
                    }
                }
            if isinstance(value, np.generic) and value.dtype.kind in _NUMPY_KINDS:
                return self.encode(value.item(), 0)
        raise WireError(f"a value of type {type(value).__qualname__}, which cannot cross")


def encode(value: Any) -> bytes:
    """One frame holding ``value``."""
    encoder = _Encoder()
    document = json.dumps(encoder.encode(value), allow_nan=False, separators=(",", ":"))
    head = document.encode()
    raw = b"".join(encoder.blobs)
    if len(head) > MAX_JSON_BYTES or len(head) + len(raw) > MAX_FRAME_BYTES:
        raise WireError(f"the value is larger than {MAX_FRAME_BYTES // 2**20} MiB")
    return _HEADER.pack(len(head), len(raw)) + head + raw


def _reject_constant(name: str) -> float:
    raise WireError(f"{name} is not JSON")


class _Decoder:
    def __init__(self, raw: memoryview) -> None:
        self.raw = raw
        self.items = 0

    def data(self, where: Any) -> bytes:
        if (
            not isinstance(where, list)
            or len(where) != 2
            or not all(type(n) is int and n >= 0 for n in where)
            or where[0] + where[1] > len(self.raw)
        ):
            raise WireError("a reference outside the message")
        return bytes(self.raw[where[0] : where[0] + where[1]])

    def decode(self, node: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("the message is nested too deeply or has too many items")
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise WireError("a malformed value")
        ((tag, body),) = node.items()
        if tag == "$tuple" and isinstance(body, list):
            return tuple(self.decode(v, depth + 1) for v in body)
        if tag == "$dict" and isinstance(body, dict):
            return {k: self.decode(v, depth + 1) for k, v in body.items()}
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$bytes":
            return self.data(body)
        if tag == "$torch_dtype" and body in _DTYPES:
            import torch

            return getattr(torch, body)
        if tag in ("$tensor", "$ndarray") and isinstance(body, dict):
            return self.array(tag, body)
        raise WireError(f"an unknown kind of value {tag[:40]!r}")

    def array(self, tag: str, body: dict) -> Any:
        import numpy as np

        shape = body.get("shape")
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise WireError("an array with a malformed shape")
        if tag == "$tensor":
            name = body.get("dtype")
            if name not in _DTYPES:
                raise WireError(f"a tensor of unknown dtype {str(name)[:40]!r}")
            dtype = np.dtype(_DTYPES[name])
        else:
            try:
                dtype = np.dtype(str(body.get("dtype")))
            except TypeError:
                raise WireError("an array of unknown dtype") from None
            if dtype.kind not in _NUMPY_KINDS or dtype.hasobject:
                raise WireError(f"an array of dtype {dtype}, which cannot cross")
        data = self.data(body.get("data"))
        if math.prod(shape) * dtype.itemsize != len(data):
            raise WireError("an array whose bytes do not match its shape")
        array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        if tag == "$ndarray":
            return array.astype(array.dtype.newbyteorder("="))
        import torch

        tensor = torch.from_numpy(array.astype(array.dtype.newbyteorder("=")))
        if name == "bfloat16":
            tensor = tensor.view(torch.bfloat16)
        if body.get("requires_grad") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor


def decode(frame: bytes | memoryview) -> Any:
    """The value in one frame; ``WireError`` for anything malformed."""
    view = memoryview(frame)
    if len(view) < _HEADER.size:
        raise WireError("a message shorter than its header")
    head_len, raw_len = _HEADER.unpack(view[: _HEADER.size])
    if len(view) != _HEADER.size + head_len + raw_len:
        raise WireError("a message whose length does not match its header")
    try:
        document = json.loads(
            bytes(view[_HEADER.size : _HEADER.size + head_len]).decode("utf-8"),
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"a message that is not JSON: {str(exc)[:200]}") from None
    return _Decoder(view[_HEADER.size + head_len :]).decode(document)


def read_frame(read_exactly) -> bytes:
    """Read one frame with ``read_exactly(n) -> bytes`` (which raises EOFError at the end)."""
    header = read_exactly(_HEADER.size)
    head_len, raw_len = _HEADER.unpack(header)
    if head_len > MAX_JSON_BYTES or head_len + raw_len > MAX_FRAME_BYTES:
        raise WireError(f"a message larger than {MAX_FRAME_BYTES // 2**20} MiB")
    return header + read_exactly(head_len + raw_len)


def receive(sock) -> Any:
    """One value from a stream socket (``EOFError`` when it closes first)."""

    def read_exactly(n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = sock.recv(min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    return decode(read_frame(read_exactly))
