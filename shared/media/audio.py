"""Voice notes and audio: recognise the container by its content and read its duration, in pure Python
(no ffmpeg at run time). Accepted: WebM/Opus (browsers' MediaRecorder), Ogg/Opus, MP4/AAC (M4A), MP3.

Each parser reads structure only (headers, block timestamps, frame headers), never decodes audio.
MediaRecorder's WebM has no duration in its header: it is the last block's time plus that block's length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from shared.media.policy import AUDIO_MAX_SECONDS, AUDIO_TYPES, MediaRejected


@dataclass(frozen=True)
class AudioInfo:
    container: str  # webm, ogg, mp4, mp3
    codec: str  # opus, aac, mp3
    duration_ms: int


def inspect_audio(data: bytes, declared_type: str) -> AudioInfo:
    expected = AUDIO_TYPES.get(declared_type)
    if expected is None:
        raise MediaRejected("type_not_allowed", declared_type)
    container = sniff_container(data)
    if container is None:
        raise MediaRejected("not_audio", "not a WebM, Ogg, MP4 or MP3 audio file")
    if container != expected:
        raise MediaRejected("type_mismatch", f"declared {declared_type}, the content is {container}")
    try:
        info = _PARSERS[container](data)
    except (IndexError, struct.error, ValueError) as error:
        raise MediaRejected("corrupt_audio", str(error) or "truncated") from None
    if info.duration_ms <= 0:
        raise MediaRejected("corrupt_audio", "no audio in it")
    if info.duration_ms > AUDIO_MAX_SECONDS * 1000:
        raise MediaRejected("too_long", f"over {AUDIO_MAX_SECONDS} seconds")
    return info


def sniff_container(data: bytes) -> str | None:
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[:4] == b"OggS":
        return "ogg"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data[:3] == b"ID3" or _mp3_frame_at(data, 0) is not None:
        return "mp3"
    return None


# ---------------------------------------------------------------------------------------- WebM (EBML)

_EBML_DOCTYPE = 0x4282
_SEGMENT, _INFO, _TRACKS, _TRACK_ENTRY, _CLUSTER, _BLOCK_GROUP = 0x18538067, 0x1549A966, 0x1654AE6B, 0xAE, 0x1F43B675, 0xA0
_TIMECODE_SCALE, _DURATION, _CODEC_ID, _CLUSTER_TIME, _SIMPLE_BLOCK, _BLOCK = 0x2AD7B1, 0x4489, 0x86, 0xE7, 0xA3, 0xA1
_EBML_HEADER = 0x1A45DFA3
# Masters whose children are read; every other element is skipped by its size. A Segment or Cluster of
# unknown size (live recording) simply runs on until the next sibling's id.
_DESCEND = {_SEGMENT, _INFO, _TRACKS, _TRACK_ENTRY, _CLUSTER, _BLOCK_GROUP, _EBML_HEADER}


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int, bool]:
    """An EBML variable-length integer at pos: (value, next position, all value bits set = unknown)."""
    first = data[pos]
    if first == 0:
        raise ValueError("bad EBML length")
    length = 8 - first.bit_length() + 1
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    if pos + length > len(data):
        raise ValueError("truncated")
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, pos + length, unknown


def _webm(data: bytes) -> AudioInfo:
    pos, scale_ns, duration, codecs = 0, 1_000_000, None, []
    cluster_time, last_block_end = 0, 0
    doctype = None
    while pos < len(data):
        element, pos, _ = _vint(data, pos, keep_marker=True)
        if pos >= len(data):
            break
        size, pos, unknown = _vint(data, pos, keep_marker=False)
        if element in _DESCEND:
            continue
        end = len(data) if unknown else pos + size
        payload = data[pos:end]
        if element == _EBML_DOCTYPE:
            doctype = payload.rstrip(b"\0").decode("ascii", "replace")
        elif element == _TIMECODE_SCALE:
            scale_ns = int.from_bytes(payload, "big")
        elif element == _DURATION:
            duration = struct.unpack(">f" if len(payload) == 4 else ">d", payload)[0]
        elif element == _CODEC_ID:
            codecs.append(payload.rstrip(b"\0").decode("ascii", "replace"))
        elif element == _CLUSTER_TIME:
            cluster_time = int.from_bytes(payload, "big")
        elif element in (_SIMPLE_BLOCK, _BLOCK) and len(payload) > 4:
            _track, offset, _ = _vint(payload, 0, keep_marker=False)
            relative = struct.unpack(">h", payload[offset : offset + 2])[0]
            frame_ms = _opus_packet_ms(payload[offset + 3 :]) if offset + 3 < len(payload) else 0
            block_end = (cluster_time + relative) * scale_ns / 1e6 + frame_ms
            last_block_end = max(last_block_end, block_end)
        pos = end
    if doctype not in ("webm", "matroska"):
        raise ValueError(f"not WebM ({doctype})")
    if "A_OPUS" not in codecs:
        raise MediaRejected("codec_not_allowed", f"WebM audio must be Opus, found {codecs or 'no track'}")
    header_ms = duration * scale_ns / 1e6 if duration else 0
    return AudioInfo("webm", "opus", round(max(header_ms, last_block_end)))


def _opus_packet_ms(packet: bytes) -> float:
    """An Opus packet's length from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:
        frame = (10, 20, 40, 60)[config % 4]
    elif config < 16:
        frame = (10, 20)[config % 2]
    else:
        frame = (2.5, 5, 10, 20)[config % 4]
    code = toc & 3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        frames = packet[1] & 0x3F if len(packet) > 1 else 0
    return frame * frames


# ------------------------------------------------------------------------------------------- Ogg/Opus


def _ogg(data: bytes) -> AudioInfo:
    head = data.find(b"OpusHead", 0, 512)
    if head < 0:
        raise MediaRejected("codec_not_allowed", "Ogg audio must be Opus")
    pre_skip = struct.unpack("<H", data[head + 10 : head + 12])[0]
    last_page = data.rfind(b"OggS")
    granule = struct.unpack("<q", data[last_page + 6 : last_page + 14])[0]
    if granule < 0:  # a page with no packet ending on it: the previous page's position counts
        last_page = data.rfind(b"OggS", 0, last_page)
        granule = struct.unpack("<q", data[last_page + 6 : last_page + 14])[0]
    return AudioInfo("ogg", "opus", round(max(0, granule - pre_skip) / 48))  # Opus granules are 48 kHz


# ------------------------------------------------------------------------------------------------ MP4


def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("bad MP4 box")
        yield kind, pos + header, pos + size
        pos += size


def _find_box(data: bytes, path: list[bytes], start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    for kind, body, box_end in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return body, box_end
            found = _find_box(data, path[1:], body, box_end)
            if found:
                return found
    return None


def _mp4(data: bytes) -> AudioInfo:
    mvhd = _find_box(data, [b"moov", b"mvhd"])
    if mvhd is None:
        raise ValueError("no movie header")
    body = mvhd[0]
    if data[body] == 1:
        timescale, duration = struct.unpack(">IQ", data[body + 20 : body + 32])
    else:
        timescale, duration = struct.unpack(">II", data[body + 12 : body + 20])
    if duration in (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):  # fragmented: the fragments' total, if given
        mehd = _find_box(data, [b"moov", b"mvex", b"mehd"])
        if mehd is not None:
            b = mehd[0]
            duration = struct.unpack(">Q" if data[b] == 1 else ">I", data[b + 4 : b + (12 if data[b] == 1 else 8)])[0]
    stsd = _find_box(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
    codec = data[stsd[0] + 12 : stsd[0] + 16] if stsd else b""
    if codec != b"mp4a":
        raise MediaRejected("codec_not_allowed", f"MP4 audio must be AAC, found {codec.decode('latin-1') or 'none'}")
    if not timescale:
        raise ValueError("no timescale")
    return AudioInfo("mp4", "aac", round(duration * 1000 / timescale))


# ------------------------------------------------------------------------------------------------ MP3

_MP3_BITRATES = {  # kbit/s by (MPEG-1?, index) for Layer III
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_at(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(frame length, samples, sample rate) of a Layer III frame header at pos, or None."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (data[pos + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (data[pos + 1] >> 1) & 3
    bitrate_index = data[pos + 2] >> 4
    rate_index = (data[pos + 2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MP3_BITRATES[mpeg1][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    samples = 1152 if mpeg1 else 576
    padding = (data[pos + 2] >> 1) & 1
    return samples // 8 * bitrate // rate + padding, samples, rate


def _mp3(data: bytes) -> AudioInfo:
    pos = 0
    if data[:3] == b"ID3":
        size = data[6:10]
        pos = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    while pos < len(data) and _mp3_frame_at(data, pos) is None and pos < 64 * 1024:
        pos += 1  # padding between the tag and the first frame
    first = _mp3_frame_at(data, pos)
    if first is None:
        raise MediaRejected("not_audio", "no MP3 frame")
    frames, samples_total, rate = 0, 0, first[2]
    xing = max(data.find(b"Xing", pos, pos + 64), data.find(b"Info", pos, pos + 64))
    if xing > 0 and data[xing + 7] & 1:  # a VBR header with the frame count
        frames = struct.unpack(">I", data[xing + 8 : xing + 12])[0]
        return AudioInfo("mp3", "mp3", round(frames * first[1] * 1000 / rate))
    while (frame := _mp3_frame_at(data, pos)) is not None and frame[0] > 0:
        frames += 1
        samples_total += frame[1]
        pos += frame[0]
    if frames < 2:
        raise MediaRejected("not_audio", "not an MP3 stream")
    return AudioInfo("mp3", "mp3", round(samples_total * 1000 / rate))


_PARSERS = {"webm": _webm, "ogg": _ogg, "mp4": _mp4, "mp3": _mp3}
