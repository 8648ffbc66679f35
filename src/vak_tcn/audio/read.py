"""Audio files: which are read (:func:`audio_extensions`, :func:`find_audio`), their headers checked
(:func:`audio_info`: truncated WAVs, MP3s libsndfile would read in part) and one block reader
(:func:`block_reader`) for annotate's spectrogram and live's ``--simulate``."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator

import numpy as np

from ..plugins import vak_files

__all__ = [
    "SOUNDFILE_EXTENSIONS",
    "AudioInfo",
    "RecordingError",
    "audio_extensions",
    "audio_info",
    "block_reader",
    "find_audio",
]


class RecordingError(ValueError):
    """A recording that cannot be annotated (unreadable, wrong sample rate, NaN samples, ...)."""


#: audio files annotate reads through soundfile, by extension, and the libsndfile format that reads each: those this
#: libsndfile has (:func:`audio_extensions`) are annotated, in folders as when named; ``.cbin`` is read through vak's
#: reader (evfuncs).  vak's own formats (:data:`~vak_tcn.plugins.vak_compat.AUDIO_FORMATS`) are among them.
SOUNDFILE_EXTENSIONS = {
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".au": "AU",
    ".caf": "CAF",
    ".flac": "FLAC",
    ".mp3": "MP3",  # libsndfile >= 1.1 (soundfile >= 0.12's wheels)
    ".ogg": "OGG",
    ".opus": "OGG",
    ".rf64": "RF64",
    ".w64": "W64",
    ".wav": "WAV",
}


def audio_extensions() -> tuple[list[str], list[str]]:
    """``(read, not_read)``: the audio file extensions annotate reads here (``.cbin``, and those of
    :data:`SOUNDFILE_EXTENSIONS` whose format this libsndfile opens), and the audio extensions it does not
    (an MP3 where libsndfile is older than 1.1), sorted."""
    import soundfile

    available = set(soundfile.available_formats())
    read = {".cbin"} | {ext for ext, fmt in SOUNDFILE_EXTENSIONS.items() if fmt in available}
    return sorted(read), sorted(set(SOUNDFILE_EXTENSIONS) - read)


def _reader_version() -> str:
    import soundfile

    return f"soundfile {soundfile.__version__}, libsndfile {soundfile.__libsndfile_version__}"


def find_audio(inputs: list[pathlib.Path], recursive: bool = False) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """``(audio file, path relative to the output directory)`` for files and directories given.

    One rule for files named and files in folders: a file is annotated when its extension is one of
    :func:`audio_extensions` (case aside).  Directories are searched for those (recursively with
    ``recursive``); files inside a directory keep their sub-path below it; their other files are not
    audio and are left alone.  ValueError, before any work, naming them: a file named that is not in a
    format read here, an audio file (named or in a folder) whose format this libsndfile cannot read (MP3
    before libsndfile 1.1), a directory without audio (``--recursive`` suggested when its subfolders
    hold audio); FileNotFoundError: a path that does not exist.
    """
    read, not_read = audio_extensions()
    extensions, unreadable = set(read), set(not_read)
    found, refused = [], []
    for item in inputs:
        item = pathlib.Path(item)
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            files = [p for p in sorted(item.glob(pattern)) if p.is_file()]
            here = [p for p in files if p.suffix.lower() in extensions]
            refused.extend(p for p in files if p.suffix.lower() in unreadable)
            if not here and not any(p.suffix.lower() in unreadable for p in files):
                kinds = ", ".join(read)
                below = (
                    [] if recursive else [p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in extensions]
                )
                if below:
                    raise ValueError(
                        f"{item} holds no audio file at its top level, and {len(below)} in its subfolders: "
                        "add --recursive to annotate those"
                    )
                raise ValueError(f"{item} holds no audio file ({kinds}){' in any subfolder' if recursive else ''}")
            found.extend((path, path.relative_to(item)) for path in here)
        elif item.exists():
            if item.suffix.lower() in extensions:
                found.append((item, pathlib.Path(item.name)))
            else:
                refused.append(item)
        else:
            raise FileNotFoundError(f"audio file or directory not found: {item}")
    if refused:
        named = ", ".join(map(str, refused[:3])) + (f" and {len(refused) - 3} more" if len(refused) > 3 else "")
        hint = (
            " (MP3 needs libsndfile >= 1.1: pip install 'soundfile>=0.12'; or convert them to FLAC or WAV)"
            if any(p.suffix.lower() == ".mp3" for p in refused) and ".mp3" in unreadable
            else ""
        )
        raise ValueError(
            f"{len(refused)} file(s) not in an audio format annotate reads here: {named}; it reads "
            f"{', '.join(read)} ({_reader_version()}){hint}"
        )
    return found


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    samplerate: int
    n_samples: int
    channels: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.samplerate


def audio_info(path: pathlib.Path) -> AudioInfo:
    """Sample rate, length and channels from the file's header (nothing else is read)."""
    path = pathlib.Path(path)
    try:
        if path.suffix.lower() == ".cbin":
            data, rate = vak_files.read_cbin(path)
            data = np.asarray(data)
            return AudioInfo(int(rate), data.shape[0], 1 if data.ndim == 1 else data.shape[1])
        import soundfile

        info = soundfile.info(str(path))
        result = AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))
    except Exception as e:
        raise RecordingError(f"cannot read audio: {type(e).__name__}: {e}".strip()) from e
    declared = _wav_declared_samples(path)
    if declared is not None and declared > result.n_samples:  # libsndfile reads what is there, silently
        rate = result.samplerate
        raise RecordingError(
            f"truncated: its header gives {declared} samples ({declared / rate:.3f} s), the file holds "
            f"{result.n_samples} ({result.duration_s:.3f} s); copy it again from its source"
        )
    in_frames = _mp3_frame_samples(path) if path.suffix.lower() == ".mp3" else None
    if in_frames is not None and in_frames - result.n_samples > 4 * 1152:  # more than a tag frame, delay, padding
        rate = result.samplerate
        raise RecordingError(
            f"libsndfile would read {result.n_samples} samples ({result.duration_s:.3f} s) of this MP3, whose "
            f"frames hold {in_frames} ({in_frames / rate:.3f} s): a variable-bitrate file without a Xing/Info "
            "header (libsndfile estimates its length); convert it to FLAC or WAV"
        )
    return result


#: MPEG audio Layer III bit rates (kbit/s) by version (MPEG-1, else MPEG-2/2.5), and sample rates by version bits
_MP3_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_samples(path: pathlib.Path) -> int | None:
    """The samples an MP3 file's frames hold, from their headers (None: not MPEG Layer III from its
    start, e.g. free format).  libsndfile takes an MP3's length from its Xing/Info header, else
    estimates it from the first frame's bit rate, and reads no further: a variable-bitrate file without
    that header is read in part, silently; compare (a walk over the frame headers, no decoding)."""
    import mmap

    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            size, position = len(data), 0
            if data[:3] == b"ID3" and size >= 10:  # an ID3v2 tag first: its size is "synchsafe", 7 bits a byte
                position = 10 + sum((data[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4))
                position += 10 if data[5] & 0x10 else 0  # a footer
            samples = 0
            while position + 4 <= size:
                header = int.from_bytes(data[position : position + 4], "big")
                version, layer = (header >> 19) & 3, (header >> 17) & 3
                bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
                if header >> 21 != 0x7FF or version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
                    break  # not a Layer III frame: the end (an ID3v1 or APE tag), or junk
                bitrate = _MP3_BITRATES[3 if version == 3 else 2][bitrate_index] * 1000
                per_frame = 1152 if version == 3 else 576
                position += per_frame // 8 * bitrate // _MP3_RATES[version][rate_index] + ((header >> 9) & 1)
                samples += per_frame
    except (OSError, ValueError):  # an empty file (mmap), unreadable: soundfile has said what it could
        return None
    return samples or None


def _wav_declared_samples(path: pathlib.Path) -> int | None:
    """The samples a RIFF WAV file's header gives its data chunk (None: not a WAV file, or a length
    left open, 0 or 0xFFFFFFFF, as recorders that stream to disk write it).  libsndfile reads a
    truncated file (a copy cut short) as a shorter recording without a word: compare."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            position, block_align = 12, 0
            while position + 8 <= size:
                fh.seek(position)
                chunk = fh.read(8)
                name, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
                if name == b"fmt ":
                    block_align = int.from_bytes(fh.read(16)[12:14], "little")
                elif name == b"data":
                    if length in (0, 0xFFFFFFFF) or not block_align:
                        return None
                    return length // block_align
                position += 8 + length + (length & 1)
    except OSError:
        return None
    return None


def block_reader(path: pathlib.Path, info: AudioInfo, channel: int | None, check_finite: bool = True):
    """``read_blocks(n)``: the recording in blocks of ``n`` samples, one channel, float64 as vak reads it
    (the one audio block reader: annotate's :class:`StreamingSpectrogram`, live's ``--simulate``).

    :class:`RecordingError` for a file that cannot be read, ends before its header's length, or (with
    ``check_finite``) has a NaN/inf sample; live replaces those with silence itself.
    """
    if info.channels > 1 and channel is None:
        raise RecordingError(f"{info.channels} channels: choose one with --channel")
    if info.channels > 1 and not 0 <= channel < info.channels:
        raise RecordingError(f"--channel {channel} out of range for {info.channels} channels")

    def pick(block: np.ndarray, start: int) -> np.ndarray:
        if block.ndim == 2:
            block = block[:, channel or 0]
        if check_finite and not np.all(np.isfinite(block)):
            bad = start + int(np.nonzero(~np.isfinite(block))[0][0])
            raise RecordingError(f"non-finite sample (NaN or inf) at sample {bad} ({bad / info.samplerate:.3f} s)")
        return block

    if path.suffix.lower() == ".cbin":  # evfuncs reads whole files; cbin files are short

        def read_blocks(n: int) -> Iterator[np.ndarray]:
            data = np.asarray(vak_files.read_cbin(path)[0])
            for start in range(0, data.shape[0], n):
                yield pick(data[start : start + n], start)

        return read_blocks

    import soundfile

    def read_blocks(n: int) -> Iterator[np.ndarray]:
        start = 0
        try:
            with soundfile.SoundFile(str(path)) as f:
                while True:
                    block = f.read(n, dtype="float64", always_2d=False)
                    if len(block) == 0:
                        break
                    yield pick(block, start)
                    start += len(block)
        except RecordingError:
            raise
        except Exception as e:
            where = f" after sample {start} of {info.n_samples} (truncated or corrupt?)" if start else ""
            raise RecordingError(f"cannot read audio{where}: {type(e).__name__}: {e}") from e
        if start < info.n_samples:
            raise RecordingError(
                f"truncated: the audio ends after {start} of the {info.n_samples} samples its header gives"
            )

    return read_blocks
