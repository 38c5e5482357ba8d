"""Every deployed function on arm64: the three artifacts `cdk synth` ships (layers/build.py's dependencies
layer of manylinux aarch64 cp313 wheels, the shared layer, the functions package) on an aarch64 CPython
3.13's path in Lambda's order, and in one process under qemu (tests/support/arm64_functions_check.py):

- every function module of the route table imports, with a deployed function's environment and no
  network (Lambda's init type unset, so no client is made at import; a connection attempt is refused);
- each compiled dependency does real work through Parley's code: the authorizers verify HS256 tokens (and
  refuse a forged one), the HTTP authorizer RS256 tokens through a JWKS URL (cryptography), process_image
  turns a JPEG upright by its EXIF orientation, converts its ICC profile (lcms2), makes renditions and a
  BlurHash, and a PNG, a WebP and a GIF (Pillow's codecs); the search index runs on sqlean; cffi calls C;
- every extension module in the layer is aarch64 and was loaded from the layer, or imports from it, or is
  one of the few Parley never loads (NOT_LOADED, with the reason).

Needs what test_search_sqlite.py's aarch64 interpreter needs (qemu-user, apt-get, dpkg-deb); skipped without,
failed with PARLEY_REQUIRE_ARM64=1 (CI).
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest

from shared.auth import mint_token
from shared.media.images import process_image
from shared.resources import (
    LOG_LEVEL_ENV,
    MEDIA_BUCKET_ENV,
    REDIS_URL_ENV,
    SEARCH_BUCKET_ENV,
    TABLE_ENV,
    WS_MANAGEMENT_URL_ENV,
)
from shared.routes import ROUTES
from tests.support.arm64 import ELF_MACHINE_AARCH64, REPO_ROOT, Arm64Python, elf_machine

pytestmark = pytest.mark.infra

CHECK = REPO_ROOT / "tests" / "support" / "arm64_functions_check.py"
SECRET = "arm64-check-secret-of-at-least-32-bytes"
ISSUER, AUDIENCE = "https://issuer.example.com/", "parley"
# Extension modules of the layer that nothing Parley does loads, and why they do not import here.
NOT_LOADED = {
    "PIL._imagingtk": "Pillow's Tk bridge needs tkinter, which neither Lambda nor this interpreter has",
    # AVIF is not an accepted image type (shared/media/policy.py). manylinux lets a wheel take libstdc++ from the
    # system; Debian's minimal python3.13 has none, and nothing here shows whether Lambda's image has it.
    "PIL._avif": "needs the system's libstdc++.so.6",
}
# What the work must have loaded from the layer (not merely found importable afterwards).
LOADED_BY_THE_WORK = {
    "PIL._imaging", "PIL._imagingcms", "PIL._webp", "cryptography.hazmat.bindings._rust", "_cffi_backend",
    "sqlean._sqlite3",
}  # fmt: skip


def _deployed_environment() -> dict[str, str]:
    """The union of what the stack sets on any function (infra/constructs/endpoint_function.py), harmless
    values, plus what Lambda itself sets; not AWS_LAMBDA_INITIALIZATION_TYPE: clients stay unmade at import."""
    return {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_ACCESS_KEY_ID": "AKIDARM64CHECK", "AWS_SECRET_ACCESS_KEY": "arm64-check", "AWS_SESSION_TOKEN": "arm64-check",
        "AWS_LAMBDA_FUNCTION_NAME": "parley-arm64-check", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "POWERTOOLS_SERVICE_NAME": "parley", LOG_LEVEL_ENV: "WARNING",
        **{variable: f"parley-arm64-{logical}" for logical, variable in TABLE_ENV.items()},
        REDIS_URL_ENV: "redis://127.0.0.1:9/0",  # the discard port: nothing may reach it
        WS_MANAGEMENT_URL_ENV: "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
        SEARCH_BUCKET_ENV: "parley-arm64-search", MEDIA_BUCKET_ENV: "parley-arm64-media",
        "JWT_SECRET": SECRET,
    }  # fmt: skip


def _tokens() -> dict:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    signing, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key(), as_dict=True), "kid": "k1", "use": "sig", "alg": "RS256"}
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    return {
        "hs256_token": mint_token("alice", SECRET), "hs256_forged": mint_token("alice", "not-the-secret-but-as-long-as-it-is"),
        "jwks": {"keys": [jwk]}, "issuer": ISSUER, "audience": AUDIENCE,
        "rs256_token": jwt.encode(claims, signing, algorithm="RS256", headers={"kid": "k1"}),
        "rs256_other_key": jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"}),
    }  # fmt: skip


def _images(directory: Path) -> dict[str, tuple[str, Path]]:
    """Small pictures, red in one half and blue in the other, in each accepted format."""
    from PIL import Image, ImageCms

    def halves(mode: str, size=(96, 64), red=(220, 30, 30), blue=(30, 30, 220)) -> Image.Image:
        image = Image.new(mode, size, blue if mode == "RGB" else (*blue, 255))
        image.paste(red if mode == "RGB" else (*red, 255), (0, 0, size[0] // 2, size[1]))
        return image

    made = {}
    # Stored sideways with EXIF orientation 6 (turn 90° clockwise to show): the left half shows on top.
    exif = Image.Exif()
    exif[0x0112] = 6
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    halves("RGB").save(directory / "sideways.jpg", "JPEG", quality=90, exif=exif, icc_profile=srgb)
    made["jpeg"] = ("image/jpeg", directory / "sideways.jpg")
    transparent = halves("RGBA").rotate(90, expand=True)  # red at the bottom…
    transparent.paste((0, 0, 0, 0), (0, 0, transparent.width, 8))  # …and a transparent band at the top
    transparent.save(directory / "transparent.png", "PNG")
    made["png"] = ("image/png", directory / "transparent.png")
    halves("RGB").rotate(90, expand=True).save(directory / "picture.webp", "WEBP", quality=90)
    made["webp"] = ("image/webp", directory / "picture.webp")
    halves("RGB").rotate(90, expand=True).convert("P").save(directory / "picture.gif", "GIF")
    made["gif"] = ("image/gif", directory / "picture.gif")
    return made


def _on_this_machine(images: dict[str, tuple[str, Path]]) -> dict:
    """process_image's answer on the host, to compare with aarch64's."""
    from PIL import Image

    done = {}
    for name, (declared_type, path) in images.items():
        processed = process_image(path.read_bytes(), declared_type, hd=False)
        renditions = {}
        for rendition in processed.renditions:
            rgb = Image.open(io.BytesIO(rendition.data)).convert("RGB")
            renditions[rendition.name] = {"size": list(rgb.size), "top": rgb.getpixel((rgb.width // 2, 1)),
                                          "bottom": rgb.getpixel((rgb.width // 2, rgb.height - 2))}  # fmt: skip
        done[name] = {"size": [processed.width, processed.height], "placeholder": processed.placeholder, "renditions": renditions}
    return done


def _close(a, b, tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def aarch64_run(arm64_python: Arm64Python, lambda_sys_path: list[Path], dependencies_layer: Path, tmp_path_factory):
    """The check script's report from one aarch64 process, and what it was given."""
    directory = tmp_path_factory.mktemp("arm64-functions")
    images = _images(directory)
    inputs = {**_tokens(), "images": {k: (t, str(p)) for k, (t, p) in images.items()},
              "dependencies_layer": str(dependencies_layer)}  # fmt: skip
    (directory / "inputs.json").write_text(json.dumps(inputs))
    result = arm64_python.run(
        "-S", str(CHECK), str(directory / "inputs.json"), path=lambda_sys_path, env=_deployed_environment(), timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("arm64-functions-report: ")]
    report = json.loads(line.split(": ", 1)[1])
    for step, outcome in report.items():
        assert not (isinstance(outcome, dict) and "error" in outcome), f"{step} failed on aarch64:\n{outcome['error']}"
    return report, images


@pytest.mark.timeout(900)  # the interpreter's download on a new machine; then ~17 s of CPU under qemu
def test_every_function_imports_on_an_aarch64_python_313_from_the_deployed_artifacts(
    aarch64_run, lambda_sys_path: list[Path]
) -> None:
    report, _ = aarch64_run
    assert report["machine"] == "aarch64" and re.fullmatch(r"cpython 3\.13\.\d+", report["python"])
    imported = report["import_every_function"]
    assert imported["failed"] == {}
    assert imported["imported"] == [route.name for route in ROUTES]
    assert imported["connections"] == []  # nothing reached for the network while importing
    functions_package, shared_layer = lambda_sys_path[:2]
    assert imported["from"] == {"functions": str(functions_package / "functions"), "shared": str(shared_layer / "shared")}


def test_every_extension_module_of_the_layer_is_aarch64_and_loads_from_it(aarch64_run, dependencies_layer: Path) -> None:
    report, _ = aarch64_run
    libraries = sorted(dependencies_layer.rglob("*.so*"))
    assert libraries and {elf_machine(library) for library in libraries} == {ELF_MACHINE_AARCH64}
    # Each wheel is pure Python or for aarch64 at a glibc Amazon Linux 2023's 2.34 has (2014: 2.17).
    tags = {line.split()[1] for wheel in dependencies_layer.glob("*.dist-info/WHEEL") for line in wheel.read_text().splitlines()
            if line.startswith("Tag:")}  # fmt: skip
    for tag in tags:
        platform = tag.rsplit("-", 1)[1]
        glibc = re.fullmatch(r"manylinux_2_(\d+)_aarch64", platform.replace("manylinux2014", "manylinux_2_17"))
        assert platform == "any" or (glibc and int(glibc[1]) <= 34), tag
    census = report["census"]
    assert LOADED_BY_THE_WORK <= census.keys()
    for module, found in census.items():
        if module in NOT_LOADED:
            assert found["state"] != "imported", f"{module} is loaded after all: drop it from NOT_LOADED"
            continue
        assert found["state"] in ("imported", "importable"), f"{module} fails on aarch64: {found.get('error')}"
        assert Path(found["file"]).is_relative_to(dependencies_layer), found
        if module in LOADED_BY_THE_WORK:
            assert found["state"] == "imported", f"{module} was not used by the work"


def test_the_authorizers_verify_hs256_and_jwks_rs256_tokens_on_aarch64(aarch64_run) -> None:
    report, _ = aarch64_run
    hs256 = report["hs256_authorizers"]
    assert hs256["http"] == {"user_id": "alice"}
    assert hs256["websocket"] == {"effect": "Allow", "user_id": "alice"}
    assert "Signature verification failed" in hs256["forged"]["auth_error"]
    assert hs256["cryptography_loaded"] is False  # an HS256-only authorizer leaves cryptography out, as deployed
    rs256 = report["rs256_authorizer"]
    assert rs256["valid"] == {"user_id": "alice"}
    assert "Signature verification failed" in rs256["other_key"]["auth_error"]


def test_process_image_makes_the_same_renditions_on_aarch64(aarch64_run) -> None:
    report, images = aarch64_run
    expected = _on_this_machine(images)
    for name, on_arm in report["images"].items():
        here = expected[name]
        assert on_arm["size"] == here["size"] == [64, 96], name  # upright: taller than wide
        assert len(on_arm["placeholder"]) == len(here["placeholder"]) == 28, name  # BlurHash of 4x3 components
        for rendition, decoded in on_arm["renditions"].items():
            assert decoded["format"] == "JPEG" and decoded["size"] == decoded["declared"] == here["renditions"][rendition]["size"]
            assert _close(decoded["top"], here["renditions"][rendition]["top"]), (name, rendition, decoded)
            assert _close(decoded["bottom"], here["renditions"][rendition]["bottom"]), (name, rendition, decoded)
    jpeg = report["images"]["jpeg"]["renditions"]["thumbnail"]
    assert _close(jpeg["top"], (220, 30, 30), 24) and _close(jpeg["bottom"], (30, 30, 220), 24)  # turned by its EXIF
    png = report["images"]["png"]["renditions"]["thumbnail"]
    assert _close(png["top"], (255, 255, 255)) and _close(png["bottom"], (220, 30, 30), 24)  # flattened onto white


def test_the_search_index_and_cffi_work_on_aarch64(aarch64_run, dependencies_layer: Path) -> None:
    report, _ = aarch64_run
    search = report["search_index"]
    assert search["driver"] == "sqlean" and Path(search["library"]).is_relative_to(dependencies_layer)
    assert search["hits"] == [["dm_a", 1]]
    assert report["cffi_call"] == {"strlen": len("parley on arm64")}
