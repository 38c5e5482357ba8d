"""Images: only real images of the declared format pass; what comes out is upright and carries no metadata."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from shared.media.images import process_image
from shared.media.policy import MediaRejected
from tests.support import media_files

pytestmark = pytest.mark.unit


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _rejection(data: bytes, declared: str = "image/jpeg") -> str:
    with pytest.raises(MediaRejected) as raised:
        process_image(data, declared, hd=True)
    return raised.value.reason


def test_a_jpeg_with_gps_and_orientation_6_comes_out_upright_without_any_metadata() -> None:
    original = media_files.jpeg_with_gps_and_orientation_6()
    assert _open(original).getexif().get_ifd(media_files.GPS_IFD)  # the test photo does carry GPS

    result = process_image(original, "image/jpeg", hd=True)

    # Stored 1200×800 with orientation 6: shown upright it is portrait, 800×1200.
    assert (result.width, result.height) == (800, 1200)
    for rendition in result.renditions:
        image = _open(rendition.data)
        assert image.format == "JPEG"
        assert image.height > image.width
        assert (image.width, image.height) == (rendition.width, rendition.height)
        assert not image.getexif(), f"{rendition.name} carries EXIF"
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info), image.info.keys()
        assert b"Parley Test Camera" not in rendition.data and b"secret comment" not in rendition.data
        # The red quarter was stored top-left; turned 90° clockwise it is top-right.
        rgb = image.convert("RGB")
        top_right = rgb.getpixel((rgb.width * 7 // 8, rgb.height // 8))
        top_left = rgb.getpixel((rgb.width // 8, rgb.height // 8))
        assert top_right[0] > 180 and top_right[1] < 80, top_right
        assert not (top_left[0] > 180 and top_left[1] < 80), top_left


def test_renditions_fit_their_budgets_and_hd_stays_under_2_mb() -> None:
    # 12 MP of noisy detail at high quality: the hardest kind of picture to compress.
    original = media_files.jpeg(media_files.photo(4000, 3000, seed=7), quality=95)
    assert len(original) > 2_000_000

    result = process_image(original, "image/jpeg", hd=True)

    sizes = {r.name: len(r.data) for r in result.renditions}
    assert sizes["hd"] <= 2_000_000
    assert sizes["standard"] <= 200_000
    assert sizes["thumbnail"] <= 40_000
    dims = {r.name: (r.width, r.height) for r in result.renditions}
    assert max(dims["standard"]) <= 1600 and max(dims["thumbnail"]) <= 320
    assert max(dims["hd"]) > max(dims["standard"])


def test_a_standard_upload_gets_no_hd_rendition_and_a_blurhash_placeholder() -> None:
    result = process_image(media_files.png(media_files.photo(640, 480)), "image/png", hd=False)
    assert [r.name for r in result.renditions] == ["standard", "thumbnail"]
    assert (result.width, result.height) == (640, 480)
    assert 20 <= len(result.placeholder) <= 40  # BlurHash with 4×3 components: 28 characters
    assert result.placeholder[0] == "L"  # 4×3 components, encoded


def test_a_20000_by_20000_png_bomb_is_rejected_without_exhausting_memory() -> None:
    # In a fresh interpreter, so its peak memory is this check's alone.
    script = (
        "import json, re\n"
        "from tests.support.media_files import png_bomb\n"
        "from shared.media.images import process_image\n"
        "from shared.media.policy import MediaRejected\n"
        "data = png_bomb()\n"
        "try:\n"
        "    process_image(data, 'image/png', hd=True); reason = None\n"
        "except MediaRejected as e:\n"
        "    reason = e.reason\n"
        # VmHWM: this process's peak resident memory (ru_maxrss would count the forking parent's).
        "peak_kb = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "print(json.dumps({'reason': reason, 'bytes': len(data), 'peak_mb': peak_kb / 1024}))\n"
    )
    outcome = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, text=True).stdout)
    assert outcome["reason"] == "too_many_pixels"
    assert outcome["bytes"] < 200_000  # tiny on disk …
    assert outcome["peak_mb"] < 100  # … and never decoded (decoded it would be 400 MP: 1.2 GB as RGB)


def test_a_php_script_named_jpg_is_rejected() -> None:
    assert _rejection(media_files.PHP_SCRIPT) == "not_an_image"


@pytest.mark.parametrize(
    "payload",
    [media_files.PHP_SCRIPT, b"<script>alert(1)</script>", media_files.zip_archive({"a.txt": b"hi"})],
    ids=["php", "html", "zip"],
)
def test_an_image_that_is_also_a_script_or_an_archive_is_rejected(payload: bytes) -> None:
    polyglot = media_files.jpeg(media_files.photo(200, 150)) + payload
    Image.open(io.BytesIO(polyglot)).load()  # still a perfectly decodable JPEG
    assert _rejection(polyglot) == "polyglot"


def test_data_after_the_end_of_a_png_is_rejected() -> None:
    assert _rejection(media_files.png(media_files.photo(100, 100)) + b"\x00\x01trailing payload", "image/png") == "polyglot"


def test_the_content_must_be_the_declared_format() -> None:
    assert _rejection(media_files.png(media_files.photo(100, 100)), "image/jpeg") == "type_mismatch"


def test_a_truncated_image_is_rejected() -> None:
    data = media_files.jpeg(media_files.photo(800, 600))
    assert _rejection(data[: len(data) // 3]) in ("corrupt_image", "not_an_image")


def test_transparency_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    result = process_image(media_files.png(image), "image/png", hd=False)
    pixel = _open(result.renditions[0].data).convert("RGB").getpixel((32, 32))
    assert min(pixel) > 245
