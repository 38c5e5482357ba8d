"""Voice notes and files: recognised by their content, durations read without decoding, executables refused."""

from __future__ import annotations

import io

import pytest

from shared.domain.errors import BadRequestError, PayloadTooLargeError
from shared.media.audio import inspect_audio
from shared.media.files import check_file
from shared.media.policy import MediaRejected, UploadRequest
from tests.support import media_files

pytestmark = pytest.mark.unit

# What ffprobe reports for the fixtures (tests/fixtures/media/README.md), in ms.
FFPROBE_MS = {"voice.webm": 3569, "live.webm": 3569, "voice.ogg": 3568, "voice.m4a": 3575, "voice.mp3": 3631}


@pytest.mark.parametrize(
    ("name", "declared", "codec"),
    [
        ("voice.webm", "audio/webm", "opus"),
        ("live.webm", "audio/webm", "opus"),  # as MediaRecorder writes it: no duration in the header
        ("voice.ogg", "audio/ogg", "opus"),
        ("voice.m4a", "audio/mp4", "aac"),
        ("voice.mp3", "audio/mpeg", "mp3"),
    ],
)
def test_a_real_voice_note_gets_its_duration(name: str, declared: str, codec: str) -> None:
    info = inspect_audio(media_files.fixture(name), declared)
    assert info.codec == codec
    assert abs(info.duration_ms - FFPROBE_MS[name]) <= 80, info


def test_audio_must_be_the_declared_container() -> None:
    with pytest.raises(MediaRejected) as raised:
        inspect_audio(media_files.fixture("voice.ogg"), "audio/webm")
    assert raised.value.reason == "type_mismatch"


@pytest.mark.parametrize("data", [media_files.PHP_SCRIPT, b"\0" * 4096, media_files.jpeg(media_files.photo(50, 50))])
def test_what_is_not_audio_is_rejected(data: bytes) -> None:
    with pytest.raises(MediaRejected) as raised:
        inspect_audio(data, "audio/mpeg")
    assert raised.value.reason in ("not_audio", "type_mismatch")


def test_truncated_audio_is_rejected_not_crashing() -> None:
    data = media_files.fixture("voice.m4a")
    for cut in (40, 200, len(data) // 2):
        try:
            inspect_audio(data[:cut], "audio/mp4")
        except MediaRejected:
            pass


def _check(data: bytes, declared: str, name: str) -> str | None:
    try:
        check_file(io.BytesIO(data), declared, name)
    except MediaRejected as rejection:
        return rejection.reason
    return None


def test_documents_of_the_declared_type_pass() -> None:
    assert _check(media_files.minimal_pdf(), "application/pdf", "report.pdf") is None
    assert _check("naïve, café\n1,2\n".encode(), "text/csv", "table.csv") is None
    assert _check(media_files.docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx") is None
    assert _check(media_files.zip_archive({"photos/a.txt": b"x"}), "application/zip", "a.zip") is None


@pytest.mark.parametrize(
    ("data", "declared", "name", "reason"),
    [
        (b"MZ\x90\x00" + b"\0" * 200, "application/pdf", "invoice.pdf", "executable"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 100, "application/zip", "x.zip", "executable"),
        (b"#!/bin/sh\nrm -rf ~\n", "text/plain", "notes.txt", "executable"),
        (media_files.PHP_SCRIPT, "application/pdf", "doc.pdf", "type_mismatch"),
        (b"text\0with\0nul", "text/plain", "a.txt", "type_mismatch"),
        (media_files.zip_archive({"setup.exe": b"MZ..."}), "application/zip", "a.zip", "denied_file_type"),
        (media_files.zip_archive({"innocent.txt": b"MZ\x90\x00program"}), "application/zip", "a.zip", "executable"),
        (media_files.docx(macros=True), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "a.docx", "macros"),
        (media_files.zip_archive({"a.txt": b"x"}),
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", "type_mismatch"),
        (media_files.minimal_pdf(), "application/pdf", "run.exe", "denied_file_type"),
    ],
    ids=["pe-as-pdf", "elf-as-zip", "shebang", "php-as-pdf", "binary-as-text", "exe-in-zip", "program-in-zip",
         "macros", "zip-as-docx", "exe-name"],
)
def test_executables_and_mismatches_are_rejected(data: bytes, declared: str, name: str, reason: str) -> None:
    assert _check(data, declared, name) == reason


def test_upload_limits_are_checked_at_the_grant() -> None:
    assert UploadRequest.from_body("image", {"content_type": "image/jpeg", "size": 5 * 1024 * 1024}).quality == "standard"
    with pytest.raises(PayloadTooLargeError):
        UploadRequest.from_body("image", {"content_type": "image/jpeg", "size": 5 * 1024 * 1024 + 1})
    hd = UploadRequest.from_body("image", {"content_type": "IMAGE/JPEG", "size": 20 * 1024 * 1024, "quality": "hd"})
    assert (hd.content_type, hd.quality) == ("image/jpeg", "hd")
    with pytest.raises(PayloadTooLargeError):
        UploadRequest.from_body("image", {"content_type": "image/jpeg", "size": 20 * 1024 * 1024 + 1, "quality": "hd"})
    voice = UploadRequest.from_body("audio", {"content_type": "audio/webm;codecs=opus", "size": 9000})
    assert voice.content_type == "audio/webm"


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("image", {"content_type": "image/svg+xml", "size": 100}),
        ("image", {"content_type": "image/jpeg", "size": 0}),
        ("image", {"content_type": "image/jpeg", "size": "100"}),
        ("image", {"content_type": "image/jpeg", "size": 100, "quality": "ultra"}),
        ("audio", {"content_type": "audio/wav", "size": 100}),
        ("file", {"content_type": "application/pdf", "size": 100}),  # no file_name
        ("file", {"content_type": "application/pdf", "size": 100, "file_name": "tool.exe"}),
        ("file", {"content_type": "application/x-msdownload", "size": 100, "file_name": "a.pdf"}),
    ],
)
def test_undeclared_or_disallowed_uploads_are_refused_at_the_grant(kind: str, body: dict) -> None:
    with pytest.raises(BadRequestError):
        UploadRequest.from_body(kind, body)


def test_file_names_are_reduced_to_a_plain_name() -> None:
    body = {"content_type": "application/pdf", "size": 10, "file_name": "../../etc/\u202ereport\n.pdf"}
    assert UploadRequest.from_body("file", body).file_name == "report.pdf"
