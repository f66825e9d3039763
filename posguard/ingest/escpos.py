"""Strip ESC/POS printer commands from a captured printer stream, keeping the text.

Receipt printers get text interleaved with commands (ESC/GS/FS sequences: fonts, alignment,
cuts, drawer kicks, bitmaps, barcodes). `EscPosStripper` removes the common ones, including
the variable-length ones (bitmaps, barcodes), across chunk boundaries; other control bytes
except TAB, LF and CR are dropped. A paper cut becomes a line break.
"""

from __future__ import annotations

__all__ = ["EscPosStripper", "strip_escpos"]

ESC, GS, FS = 0x1B, 0x1D, 0x1C
# Fixed parameter counts after ESC x / GS x / FS x.
_ESC_FIXED = {ord("@"): 0, ord("!"): 1, ord("E"): 1, ord("-"): 1, ord("a"): 1, ord("d"): 1,
              ord("J"): 1, ord("M"): 1, ord("t"): 1, ord("G"): 1, ord("R"): 1, ord("{"): 1,
              ord("V"): 1, ord("2"): 0, ord("3"): 1, ord("i"): 0, ord("m"): 0, ord("p"): 3,
              ord("c"): 2, ord("e"): 1, ord("r"): 1, ord("U"): 1, ord(" "): 1, ord("$"): 2,
              ord("\\"): 2, ord("D"): -1}
_GS_FIXED = {ord("!"): 1, ord("B"): 1, ord("h"): 1, ord("w"): 1, ord("H"): 1, ord("f"): 1,
             ord("L"): 2, ord("W"): 2, ord("b"): 1, ord("a"): 1, ord("r"): 1, ord("I"): 1}
_FS_FIXED = {ord("&"): 0, ord("."): 0, ord("p"): 2, ord("C"): 1, ord("!"): 1, ord("-"): 1,
             ord("W"): 1}
_KEEP = {0x09, 0x0A, 0x0D}
_MAX_SKIP = 1 << 20


def _command_length(buf: bytes | bytearray, i: int) -> int | None:
    """Length of the command at buf[i] (an ESC/GS/FS byte); None when more bytes are needed."""
    n = len(buf)
    if i + 1 >= n:
        return None
    lead, op = buf[i], buf[i + 1]
    if lead == ESC:
        if op == ord("*"):  # bit image: ESC * m nL nH d1..dk
            if i + 4 >= n:
                return None
            dots = buf[i + 3] + 256 * buf[i + 4]
            return 5 + dots * (1 if buf[i + 2] in (0, 1) else 3)
        if op == ord("D"):  # tab stops: NUL-terminated
            end = buf.find(b"\0", i + 2)
            return None if end < 0 else end - i + 1
        return 2 + max(0, _ESC_FIXED.get(op, 0))
    if lead == GS:
        if op == ord("V"):  # cut: GS V m [n]
            if i + 2 >= n:
                return None
            return 4 if buf[i + 2] in (65, 66) else 3
        if op == ord("k"):  # barcode: GS k m d1..dk NUL | GS k m n d1..dn
            if i + 2 >= n:
                return None
            m = buf[i + 2]
            if m <= 6:
                end = buf.find(b"\0", i + 3)
                return None if end < 0 else end - i + 1
            if i + 3 >= n:
                return None
            return 4 + buf[i + 3]
        if op == ord("v"):  # raster image: GS v 0 m xL xH yL yH data
            if i + 7 >= n:
                return None
            x = buf[i + 4] + 256 * buf[i + 5]
            y = buf[i + 6] + 256 * buf[i + 7]
            return 8 + x * y
        if op in (ord("("), ord("8")):  # GS ( fn pL pH ...: function with a length
            if i + 4 >= n:
                return None
            return 5 + buf[i + 3] + 256 * buf[i + 4]
        return 2 + _GS_FIXED.get(op, 0)
    return 2 + _FS_FIXED.get(op, 0)


class EscPosStripper:
    """Streaming ESC/POS stripper (see the module docstring).

    Example:
        >>> EscPosStripper().feed(b"\\x1b@\\x1b!\\x08TOTAL 5.00\\n\\x1dVA\\x03")
        b'TOTAL 5.00\\n\\n'
    """

    def __init__(self) -> None:
        self._carry = b""
        self._skip = 0

    def feed(self, chunk: bytes) -> bytes:
        """Bytes in -> the text bytes among them (a command cut at the end waits)."""
        buf = self._carry + chunk
        self._carry = b""
        out = bytearray()
        i, n = 0, len(buf)
        if self._skip:
            i = min(self._skip, n)
            self._skip -= i
        while i < n:
            b = buf[i]
            if b in (ESC, GS, FS):
                length = _command_length(buf, i)
                if length is None:
                    if n - i > 64:  # a header that never completes: drop the lead byte
                        i += 1
                        continue
                    self._carry = bytes(buf[i:])
                    break
                if buf[i] == GS and buf[i + 1] == ord("V"):
                    out += b"\n"
                if i + length > n:
                    self._skip = min(i + length - n, _MAX_SKIP)
                    break
                i += length
                continue
            if b >= 0x20 and b != 0x7F or b in _KEEP:
                out.append(b)
            i += 1
        return bytes(out)


def strip_escpos(data: bytes) -> bytes:
    """ESC/POS commands removed from a whole capture."""
    return EscPosStripper().feed(data)
