"""A FlatBuffers verifier for model files, driven by the schema's field layout.

FlatBuffers' Python runtime trusts its input: an offset past the end raises somewhere deep,
a negative one silently wraps around, and a vector may claim four billion elements.  So,
like TFLite's C++ `VerifyModelBuffer`, every offset, vtable, string and vector of a file is
checked against the bytes that are really there before anything is decoded.  Work is bounded
by the number of tables (`MAX_TABLES`) and nesting by `MAX_DEPTH`; nothing is allocated in
proportion to what a field claims.
"""

from __future__ import annotations

import struct

from emberlite.errors import ModelFormatError
from emberlite.schema.model_layout import TABLES, UNIONS

FILE_IDENTIFIER = b"TFL3"
MAX_DEPTH = 64
MAX_TABLES = 1_000_000

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class _Verifier:
    def __init__(self, buf: memoryview, source: str):
        self.buf = buf
        self.size = len(buf)
        self.source = source
        self.tables = 0

    def fail(self, where: str, what: str) -> ModelFormatError:
        return ModelFormatError(f"{self.source}: {where}: {what}")

    def check_range(self, where: str, pos: int, length: int, align: int = 1) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise self.fail(
                where, f"{length} bytes at offset {pos} lie outside the {self.size}-byte file"
            )
        if align > 1 and pos % align:
            raise self.fail(where, f"offset {pos} is not aligned to {align} bytes")

    def u32(self, where: str, pos: int) -> int:
        self.check_range(where, pos, 4, 4)
        return _U32.unpack_from(self.buf, pos)[0]

    def target(self, where: str, pos: int) -> int:
        """Follow the uoffset stored at `pos` (always forward)."""
        return pos + self.u32(where, pos)

    def table(self, name: str, pos: int, where: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.fail(where, f"tables nest deeper than {MAX_DEPTH}")
        self.tables += 1
        if self.tables > MAX_TABLES:
            raise self.fail(where, f"more than {MAX_TABLES} tables")
        self.check_range(where, pos, 4, 4)
        vtable = pos - _I32.unpack_from(self.buf, pos)[0]
        self.check_range(f"{where} vtable", vtable, 4, 2)
        vsize, tsize = (
            _U16.unpack_from(self.buf, vtable)[0],
            _U16.unpack_from(self.buf, vtable + 2)[0],
        )
        if vsize < 4 or vsize % 2:
            raise self.fail(where, f"vtable size {vsize} is invalid")
        self.check_range(f"{where} vtable", vtable, vsize, 2)
        self.check_range(where, pos, tsize)
        fields = TABLES[name]
        offsets = [
            _U16.unpack_from(self.buf, vtable + 4 + 2 * i)[0] if 4 + 2 * i < vsize else 0
            for i in range(len(fields))
        ]
        for i, ((field, kind, detail), off) in enumerate(zip(fields, offsets, strict=True)):
            if off == 0 or kind == "deprecated":
                continue
            at = f"{where}.{field}"
            fpos = pos + off
            if kind in ("scalar", "union_type"):
                self.check_range(at, fpos, detail, detail)
            elif kind == "string":
                start = self.target(at, fpos)
                length = self.u32(at, start)
                self.check_range(at, start + 4, length + 1)
                if self.buf[start + 4 + length] != 0:
                    raise self.fail(at, "string is not NUL-terminated")
            elif kind == "vector":
                start = self.target(at, fpos)
                length = self.u32(at, start)
                self.check_range(at, start + 4, length * detail, min(detail, 4) if length else 1)
            elif kind == "tables":
                start = self.target(at, fpos)
                length = self.u32(at, start)
                self.check_range(at, start + 4, length * 4)
                for j in range(length):
                    elem = start + 4 + 4 * j
                    self.table(detail, self.target(f"{at}[{j}]", elem), f"{at}[{j}]", depth + 1)
            elif kind == "table":
                self.table(detail, self.target(at, fpos), at, depth + 1)
            elif kind == "union":
                type_off = offsets[i - 1]
                member = self.buf[pos + type_off] if type_off else 0
                members = UNIONS[detail]
                # An unknown member (a newer schema) is skipped, as TFLite's verifier does;
                # the reader reports it by number.
                if 0 < member <= len(members):
                    self.table(members[member - 1], self.target(at, fpos), at, depth + 1)


def verify_model_buffer(buf: memoryview, source: str) -> int:
    """Check `buf` is a well-formed TFLite model; returns the root table's position.

    Raises ModelFormatError naming `source` and the field at fault.
    """
    if len(buf) < 8:
        raise ModelFormatError(f"{source}: {len(buf)} bytes is too short for a TFLite model")
    ident = bytes(buf[4:8])
    if ident != FILE_IDENTIFIER:
        raise ModelFormatError(
            f"{source}: not a TFLite model "
            f"(file identifier {ident!r}, expected {FILE_IDENTIFIER!r})"
        )
    verifier = _Verifier(buf, source)
    root = verifier.target("root", 0)
    verifier.table("Model", root, "model", 0)
    return root
