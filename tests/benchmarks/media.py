"""Image processing per photo size: what the process_image function does with a camera JPEG of 1, 12 and
48 megapixels (decode at the smallest JPEG scale that still serves the largest rendition, turn upright,
strip metadata, encode standard + HD + thumbnail, BlurHash), its time and peak memory, the function
memory size that implies, and the cost per thousand images at AWS list prices.

Each size runs in a fresh interpreter (peak memory is then that run's alone: VmHWM). The photo is
synthetic but hard to compress (fractal detail plus noise), saved at JPEG quality 90 with EXIF
orientation 6, as a phone would. The HD rendition is made (an `hd` upload: the most work).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from shared.routes import ROUTES
from tests.benchmarks.common import Result, markdown_table

SIZES_MP = {1: (1155, 866), 12: (4000, 3000), 48: (8000, 6000)}
ROUNDS = {1: 3, 12: 2, 48: 1}
# AWS list prices (us-east-1, arm64): Lambda $0.0000133334 per GB-second, $0.20 per million requests;
# S3 PUT $0.005 and GET $0.0004 per 1,000; DynamoDB on-demand $1.25 per million writes, $0.25 per
# million reads (1 KB / 4 KB units); the WebSocket push $1.00 per million messages.
LAMBDA_GB_SECOND, LAMBDA_REQUEST = 0.0000133334, 0.20 / 1_000_000
S3_PUT, S3_GET = 0.005 / 1000, 0.0004 / 1000
DYNAMODB_WRITE, DYNAMODB_READ = 1.25 / 1_000_000, 0.25 / 1_000_000
PUSH = 1.00 / 1_000_000
# What the rest of the function holds besides the image work (Python, botocore, PynamoDB): measured by
# the cold-start benchmark's processes, about this much resident.
RUNTIME_OVERHEAD_MB = 110
LAMBDA_SIZES_MB = (512, 1024, 1536, 2048, 3008)
DEPLOYED_MB = next(r.memory_mb for r in ROUTES if r.name == "process_image")

# Makes the photo (in a process of its own: generating it takes more memory than processing it).
_MAKE = r"""
import sys
from PIL import Image
from tests.support.media_files import photo, jpeg
kind, width, height, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if kind == "jpeg":
    exif = Image.Exif(); exif[0x0112] = 6
    data = jpeg(photo(width, height, seed=3), quality=90, exif=exif)
else:  # a PNG: no scaled decode (the worst case); flat graphics, as a 48 MP PNG under 20 MB must be
    image = Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 30).convert("RGBA")
    import io; out = io.BytesIO(); image.save(out, "PNG", compress_level=9); data = out.getvalue()
open(path, "wb").write(data)
"""
_SCRIPT = r"""
import json, re, sys, time
from shared.media.images import process_image
path, declared, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
status = lambda field: int(re.search(field + r":\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024
before = status("VmRSS")
times = []
for _ in range(rounds):
    started = time.perf_counter()
    result = process_image(data, declared, hd=True)
    times.append(time.perf_counter() - started)
print(json.dumps({
    "input_bytes": len(data), "seconds": min(times), "before_mb": before, "peak_mb": status("VmHWM"),
    "renditions": {r.name: [r.width, r.height, len(r.data)] for r in result.renditions},
}))
"""


def _measure(kind: str, megapixels: int, directory: str) -> dict:
    width, height = SIZES_MP[megapixels]
    path = os.path.join(directory, f"{megapixels}mp.{kind}")
    subprocess.run([sys.executable, "-c", _MAKE, kind, str(width), str(height), path], check=True)
    declared = "image/jpeg" if kind == "jpeg" else "image/png"
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, path, declared, str(ROUNDS[megapixels])],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _memory_for(peak_mb: float) -> int:
    """The smallest usual Lambda size with room for the work's peak, the runtime and 30% headroom."""
    need = (peak_mb + RUNTIME_OVERHEAD_MB) * 1.3
    return next((size for size in LAMBDA_SIZES_MB if size >= need), LAMBDA_SIZES_MB[-1])


def _cost_per_thousand(seconds: float, memory_mb: int, renditions: int) -> float:
    per_image = (
        seconds * memory_mb / 1024 * LAMBDA_GB_SECOND
        + LAMBDA_REQUEST
        + renditions * S3_PUT  # renditions written
        + S3_GET  # the upload read
        + 2 * DYNAMODB_READ + DYNAMODB_WRITE  # the record read, settled; the owner's connections read
        + PUSH  # media_ready to one device
    )
    return per_image * 1000


def run(quick: bool = False) -> Result:
    result = Result("media", "Image processing per photo size")
    rows, data = [], {}
    cases = [("jpeg", 1), ("jpeg", 12)] + ([] if quick else [("jpeg", 48), ("png", 48)])
    with tempfile.TemporaryDirectory(prefix="parley-media-bench-") as directory:
        for kind, megapixels in cases:
            measured = _measure(kind, megapixels, directory)
            work_mb = measured["peak_mb"] - measured["before_mb"]
            memory = _memory_for(measured["peak_mb"])
            # At the deployed size (the route's): Lambda's CPU share grows with memory, so the same work at
            # 1,024 MB takes about 1769/1024 of this machine's single-core time.
            lambda_seconds = measured["seconds"] * max(1.0, 1769 / DEPLOYED_MB)
            cost = _cost_per_thousand(lambda_seconds, DEPLOYED_MB, len(measured["renditions"]))
            label = f"{megapixels} MP {kind.upper()}"
            data[label] = {
                **measured, "work_mb": work_mb, "memory_mb": memory, "lambda_seconds": lambda_seconds,
                "cost_per_1000": cost,
            }
            hd = measured["renditions"]["hd"]
            rows.append(
                [
                    label,
                    f"{measured['input_bytes'] / 1e6:.1f} MB",
                    f"{measured['seconds'] * 1000:.0f} ms",
                    f"{measured['peak_mb']:.0f} MB ({work_mb:+.0f} MB)",
                    f"{hd[0]}×{hd[1]}, {hd[2] / 1e6:.2f} MB",
                    f"{memory} MB",
                    f"{lambda_seconds:.1f} s",
                    f"${cost:.4f}",
                ]
            )
            result.add(
                f"process_image, {label}",
                f"{measured['seconds'] * 1000:.0f} ms, peak {measured['peak_mb']:.0f} MB",
                note=f"needs {memory} MB; ${cost:.4f} per 1,000 at {DEPLOYED_MB} MB",
            )
    result.details.append(
        markdown_table(
            ["photo", "upload", "time (this machine, 1 core)", "peak resident (work)", "HD rendition",
             "memory it implies", f"time at {DEPLOYED_MB} MB (est.)", f"cost per 1,000 at {DEPLOYED_MB} MB"],
            rows,
        )
    )
    result.details.append(
        "Peak resident is the whole process (Python, Pillow, the photo's bytes); the work is what processing "
        f"added. The memory size allows {RUNTIME_OVERHEAD_MB} MB for the function's other imports and 30% "
        f"headroom. The function is deployed at {DEPLOYED_MB} MB (shared/routes.py), the largest need above. "
        "Lambda gives CPU in proportion to memory (1,769 MB = one vCPU): the estimated time there is this "
        "machine's single-core time scaled by that share, and the cost uses it. Requests: 1 Lambda "
        "invocation, one S3 PUT per rendition, 1 GET, DynamoDB 2 reads + 1 write, 1 push."
    )
    result.data = data
    return result
