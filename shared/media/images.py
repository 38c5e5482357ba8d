"""Images: prove the bytes are an allowed image, then make clean renditions of it (Pillow).

Refused: anything Pillow does not identify as the declared format, more than IMAGE_MAX_PIXELS pixels
(checked from the header, before anything is decoded: a decompression bomb costs nothing), and
polyglots (an image that is also a script, a page or an archive). Kept: the pixels, turned upright by
their EXIF orientation and converted to sRGB; dropped: every byte of metadata (EXIF with GPS, XMP, IPTC,
comments, ICC). Renditions are JPEGs (transparency is flattened onto white).
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
from dataclasses import dataclass

from PIL import Image, ImageCms, UnidentifiedImageError

from shared.media.policy import IMAGE_MAX_PIXELS, IMAGE_TYPES, MediaRejected

Image.MAX_IMAGE_PIXELS = IMAGE_MAX_PIXELS  # Pillow's own guard, behind ours

# rendition -> (longest edge in pixels, byte budget, JPEG qualities to try in turn)
RENDITIONS = {
    "thumbnail": (320, 40_000, (70, 55)),
    "standard": (1600, 200_000, (82, 72, 62, 52)),
    "hd": (4096, 2_000_000, (90, 84, 76, 68)),
}
RENDITION_TYPE = "image/jpeg"
BLURHASH_COMPONENTS = (4, 3)

# Markers of another format inside an image: a script, a page, a document (at least 5 bytes each, so
# compressed pixels match one by chance about once in 10^10 bytes; a ZIP is found by its end record).
_POLYGLOT = re.compile(rb"<\?php|<script|<html|<body|<svg|<!doctype|<iframe|%PDF-", re.I)
_PNG_END = b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes
    width: int
    height: int
    content_type: str = RENDITION_TYPE


@dataclass(frozen=True)
class ProcessedImage:
    format: str  # Pillow's name of what was uploaded: JPEG, PNG, WEBP, GIF
    width: int  # upright, as the renditions show it
    height: int
    placeholder: str  # a BlurHash of the picture
    renditions: tuple[Rendition, ...]


def process_image(data: bytes, declared_type: str, *, hd: bool) -> ProcessedImage:
    expected_format = IMAGE_TYPES.get(declared_type)
    if expected_format is None:
        raise MediaRejected("type_not_allowed", declared_type)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES.values()))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaRejected("too_many_pixels", f"over {IMAGE_MAX_PIXELS} pixels") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise MediaRejected("not_an_image", "not an image Parley accepts") from None
    with image:
        if _POLYGLOT.search(data) or zipfile.is_zipfile(io.BytesIO(data)):
            raise MediaRejected("polyglot", "the image also holds a script, a page or an archive")
        if image.format != expected_format:
            raise MediaRejected("type_mismatch", f"declared {declared_type}, the content is {image.format}")
        width, height = image.size
        if width * height > IMAGE_MAX_PIXELS:
            raise MediaRejected("too_many_pixels", f"{width}x{height} is over {IMAGE_MAX_PIXELS} pixels")
        if image.format == "PNG" and data.rstrip(b"\0\r\n\t ").endswith(_PNG_END) is False:
            raise MediaRejected("polyglot", "data after the end of the PNG")
        largest = RENDITIONS["hd" if hd else "standard"][0]
        upright = _decode_upright(image, largest)
    names = ("standard", "hd", "thumbnail") if hd else ("standard", "thumbnail")
    renditions = tuple(_rendition(upright, name) for name in names)
    return ProcessedImage(
        format=expected_format,
        width=upright.width,
        height=upright.height,
        placeholder=blurhash(upright),
        renditions=renditions,
    )


def _decode_upright(image: Image.Image, longest_edge: int) -> Image.Image:
    """Decodes (a JPEG at the smallest scale still at least as large as needed), turns the pixels by the
    EXIF orientation, converts to sRGB RGB; the result carries no metadata."""
    try:
        if image.format == "JPEG":
            # JPEG decodes at 1/2, 1/4 or 1/8 scale for a fraction of the memory and time: take the
            # smallest that keeps 90% of the largest rendition's edge (a 48 MP photo then decodes as 12 MP).
            scale = max(image.size) / (longest_edge * 0.9)
            if scale > 1:
                image.draft("RGB", (math.ceil(image.width / scale), math.ceil(image.height / scale)))
        image.seek(0)
        image.load()
        orientation = image.getexif().get(0x0112, 1)
        icc = image.info.get("icc_profile")
        pixels = _to_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise MediaRejected("corrupt_image", "the image could not be decoded") from None
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            pixels = ImageCms.profileToProfile(pixels, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: keep the pixels as they are
    transpose = _TRANSPOSES.get(orientation)
    if transpose is not None:
        pixels = pixels.transpose(transpose)
    pixels.info.clear()
    return pixels


# EXIF orientation -> the turn that makes the pixels upright (as ImageOps.exif_transpose does).
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _fit(image: Image.Image, longest_edge: int) -> Image.Image:
    scale = longest_edge / max(image.size)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _rendition(image: Image.Image, name: str) -> Rendition:
    longest_edge, budget, qualities = RENDITIONS[name]
    resized = _fit(image, longest_edge)
    while True:
        for quality in qualities:
            data = _jpeg(resized, quality)
            if len(data) <= budget:
                return Rendition(name, data, resized.width, resized.height)
        # Still over budget at the lowest quality: fewer pixels.
        resized = _fit(resized, int(max(resized.size) * 0.8))


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.info.clear()  # no EXIF, ICC or comment rides along
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


# BlurHash (https://blurha.sh): a ~30-character string a client decodes into a blurred preview.
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i - 1)) % 83] for i in range(length))


def _to_linear(value: int) -> float:
    v = value / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    return round((v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055) * 255)


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def blurhash(image: Image.Image) -> str:
    cx, cy = BLURHASH_COMPONENTS
    small = image.copy()
    small.thumbnail((32, 32))
    w, h = small.size
    raw = small.tobytes()
    linear = [(_to_linear(raw[k]), _to_linear(raw[k + 1]), _to_linear(raw[k + 2])) for k in range(0, len(raw), 3)]
    factors = []
    for j in range(cy):
        for i in range(cx):
            norm = 1 if i == j == 0 else 2
            r = g = b = 0.0
            for y in range(h):
                cos_y = math.cos(math.pi * j * y / h)
                row = y * w
                for x in range(w):
                    basis = cos_y * math.cos(math.pi * i * x / w)
                    pr, pg, pb = linear[row + x]
                    r += basis * pr
                    g += basis * pg
                    b += basis * pb
            scale = norm / (w * h)
            factors.append((r * scale, g * scale, b * scale))
    dc, ac = factors[0], factors[1:]
    result = _base83((cx - 1) + (cy - 1) * 9, 1)
    max_ac = max((abs(c) for f in ac for c in f), default=0.0)
    quantised = max(0, min(82, int(max_ac * 166 - 0.5))) if ac else 0
    actual_max = (quantised + 1) / 166
    result += _base83(quantised, 1)
    result += _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4)
    for f in ac:
        q = [max(0, min(18, math.floor(_sign_pow(c / actual_max, 0.5) * 9 + 9.5))) for c in f]
        result += _base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2)
    return result
