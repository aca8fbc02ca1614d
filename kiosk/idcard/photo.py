"""ID-card photo: opaque WLT bytes behind a decoder interface.

The WLT wavelet format needs the licensed vendor library (``libwlt2bmp.so`` ``GetBmp``); no
open decoder exists.  Production plugs a vendor-backed decoder in; everything else uses
:class:`PlaceholderPhotoDecoder`, which returns a fixed neutral image.
"""

from __future__ import annotations

import struct
import zlib
from typing import Protocol

PHOTO_WIDTH_PX = 102  # size of the decoded card photo
PHOTO_HEIGHT_PX = 126
PLACEHOLDER_GREY = 0xC8
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PhotoDecoder(Protocol):
    def decode(self, wlt: bytes) -> bytes:
        """Return a PNG image for the WLT data; raise KioskDeviceError when it cannot."""
        ...


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class PlaceholderPhotoDecoder:
    """Returns the same grey PNG of the card photo's size for any input (no decoding)."""

    def __init__(self) -> None:
        header = struct.pack(">IIBBBBB", PHOTO_WIDTH_PX, PHOTO_HEIGHT_PX, 8, 0, 0, 0, 0)  # 8-bit grey
        rows = (b"\x00" + bytes([PLACEHOLDER_GREY]) * PHOTO_WIDTH_PX) * PHOTO_HEIGHT_PX
        self._png = (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows))
                     + _chunk(b"IEND", b""))

    def decode(self, wlt: bytes) -> bytes:
        return self._png
