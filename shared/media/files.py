"""Files: the content must be what the declared type says, and nothing that runs.

Refused whatever is declared: executables by their magic (PE `MZ`, ELF, Mach-O, Java class), scripts
(`#!`), and names with a denied extension (policy.DENIED_EXTENSIONS). ZIP-based files (zip, docx, xlsx,
pptx) are opened: an entry with a denied name or executable content, or Office macros (vbaProject.bin),
refuses the file. Entries are listed, never extracted.
"""

from __future__ import annotations

import zipfile
from typing import BinaryIO

from shared.media.policy import FILE_TYPES, MediaRejected, has_denied_extension

HEAD_BYTES = 8192
_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE, DOS
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"#!",
    b"\x00asm",  # WebAssembly
)
_OOXML_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word/",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xl/",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "ppt/",
}
MAX_ARCHIVE_ENTRIES = 10_000


def check_file(content: BinaryIO, declared_type: str, file_name: str) -> None:
    """Raises MediaRejected unless the content is an acceptable file of the declared type."""
    family = FILE_TYPES.get(declared_type)
    if family is None:
        raise MediaRejected("type_not_allowed", declared_type)
    if has_denied_extension(file_name):
        raise MediaRejected("denied_file_type", file_name)
    content.seek(0)
    head = content.read(HEAD_BYTES)
    if head.startswith(_EXECUTABLE_MAGIC):
        raise MediaRejected("executable", "programs and scripts are not accepted")
    if family == "pdf" and not head.startswith(b"%PDF-"):
        raise MediaRejected("type_mismatch", "not a PDF")
    if family == "rtf" and not head.startswith(b"{\\rtf"):
        raise MediaRejected("type_mismatch", "not an RTF document")
    if family == "text":
        _check_text(head)
    if family in ("zip", "ooxml"):
        _check_archive(content, declared_type, family)


def _check_text(head: bytes) -> None:
    if b"\0" in head:
        raise MediaRejected("type_mismatch", "not text")
    try:
        # The head may end inside a character: only a fault before the last 3 bytes counts.
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:
            raise MediaRejected("type_mismatch", "text must be UTF-8") from None


def _check_archive(content: BinaryIO, declared_type: str, family: str) -> None:
    content.seek(0)
    try:
        with zipfile.ZipFile(content) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ARCHIVE_ENTRIES:
                raise MediaRejected("archive_too_large", f"over {MAX_ARCHIVE_ENTRIES} entries")
            names = [entry.filename for entry in entries]
            for entry in entries:
                if entry.filename.lower().endswith("vbaproject.bin"):
                    raise MediaRejected("macros", "documents with macros are not accepted")
                if has_denied_extension(entry.filename):
                    raise MediaRejected("denied_file_type", f"the archive holds {entry.filename}")
                if entry.file_size and not entry.flag_bits & 1:  # unencrypted: look at its first bytes
                    with archive.open(entry) as member:
                        if member.read(4).startswith(_EXECUTABLE_MAGIC):
                            raise MediaRejected("executable", f"the archive holds a program: {entry.filename}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError):
        raise MediaRejected("type_mismatch", "not a readable ZIP archive") from None
    if family == "ooxml":
        part = _OOXML_PARTS[declared_type]
        if "[Content_Types].xml" not in names or not any(n.startswith(part) for n in names):
            raise MediaRejected("type_mismatch", "not the declared Office document")
