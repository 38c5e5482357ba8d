"""Real media files the tests make: photos with metadata, a decompression bomb, polyglots, archives."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "media"

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(width: int = 1200, height: int = 800, *, seed: int = 1) -> Image.Image:
    """A picture with detail (gradients and noise) whose top-left quarter is red, so turns are visible."""
    rng = random.Random(seed)
    image = Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    image = Image.blend(image, noise, 0.15)
    image.paste((220, 20, 20), (0, 0, width // 2, height // 2))
    return image


def jpeg(image: Image.Image, *, quality: int = 90, exif: Image.Exif | None = None, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif if exif is not None else b"", **options)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps_and_orientation_6() -> bytes:
    """A landscape-stored camera photo (1200×800) meant to be shown rotated 90° clockwise (portrait),
    with a GPS position, a camera model and a comment."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x0110] = "Parley Test Camera"  # Model
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 22.0, 5.0), 3: "E", 4: (4.0, 53.0, 1.0)})
    return jpeg(photo(), exif=exif, comment=b"secret comment")


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of width×height white pixels: ~50 KB on disk, 400 megapixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\0" + b"\xff" * ((width + 7) // 8)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


PHP_SCRIPT = b"<?php system($_GET['cmd']); ?>\n"


def zip_archive(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(*, macros: bool = False) -> bytes:
    entries = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
        "word/document.xml": b'<?xml version="1.0"?><w:document/>',
    }
    if macros:
        entries["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0macros"
    return zip_archive(entries)


def minimal_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
