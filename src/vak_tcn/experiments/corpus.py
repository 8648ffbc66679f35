"""Synthetic annotated song: the demo corpus and the tests' data.

:func:`make_corpus` writes WAV files of synthetic "bouts" and one annotation
per file in crowsetta's ``simple-seq`` format (``bout_000.wav.csv`` next to
``bout_000.wav``, columns ``onset_s,offset_s,label``), which ``vak prep`` reads
with ``annot_format = "simple-seq"``.

The song is built to be learnable but not trivial:

* a repertoire of syllable types, each a harmonic stack with its own
  fundamental, frequency modulation (sweep up/down, or a sinusoidal wobble),
  duration and amplitude envelope; some pairs of types share a fundamental and
  differ only in modulation or duration, so the spectral shape alone is not
  enough to tell them apart;
* a first-order Markov chain over syllable types, mostly stereotyped with
  branch points (like Bengalese finch song);
* per-rendition jitter of pitch, duration and loudness, variable gaps, and
  background noise (white + low-frequency rumble) at a chosen SNR, with some
  faint "call-like" noise bursts that are not annotated.

Everything is seeded: the same arguments give the same files.
"""

from __future__ import annotations

import dataclasses
import pathlib
import string
import sys

import numpy as np

__all__ = ["SyllableType", "make_repertoire", "make_bout", "make_corpus"]


@dataclasses.dataclass(frozen=True)
class SyllableType:
    """One syllable type of the synthetic repertoire."""

    label: str
    f0: float  # fundamental frequency, Hz
    duration: float  # seconds
    fm: str  # "up", "down", "flat" or "wobble"
    fm_depth: float  # fraction of f0
    n_harmonics: int
    attack: float  # fraction of the duration


def make_repertoire(n_types: int = 6, seed: int = 0) -> list[SyllableType]:
    """Draw ``n_types`` syllable types; pairs (2k, 2k+1) share a fundamental."""
    if not 1 <= n_types <= 26:
        raise ValueError(f"n_types must be between 1 and 26, got {n_types}")
    rng = np.random.default_rng(seed)
    fms = ["up", "down", "flat", "wobble"]
    types = []
    for i in range(n_types):
        if i % 2 == 0:
            f0 = float(rng.uniform(1500.0, 4500.0))
        types.append(
            SyllableType(
                label=string.ascii_lowercase[i],
                f0=f0,
                duration=float(rng.uniform(0.04, 0.14)),
                fm=fms[(i + int(rng.integers(0, 4))) % 4] if i % 2 else fms[i // 2 % 4],
                fm_depth=float(rng.uniform(0.08, 0.25)),
                n_harmonics=int(rng.integers(2, 5)),
                attack=float(rng.uniform(0.1, 0.4)),
            )
        )
    return types


def _transition_matrix(n: int, rng: np.random.Generator) -> np.ndarray:
    """Stereotyped sequence with branch points: each type has 1-2 likely successors."""
    order = rng.permutation(n)
    trans = np.full((n, n), 0.02)
    for pos, cur in enumerate(order):
        trans[cur, order[(pos + 1) % n]] += 1.0
        if rng.random() < 0.4:  # branch point
            trans[cur, order[(pos + 2) % n]] += 0.6
    return trans / trans.sum(axis=1, keepdims=True)


def _render(syl: SyllableType, samplerate: int, rng: np.random.Generator) -> np.ndarray:
    dur = syl.duration * rng.uniform(0.9, 1.1)
    n = max(int(dur * samplerate), 8)
    t = np.arange(n) / samplerate
    f0 = syl.f0 * rng.uniform(0.97, 1.03)
    phase01 = t / dur
    if syl.fm == "up":
        inst_f = f0 * (1 - syl.fm_depth / 2 + syl.fm_depth * phase01)
    elif syl.fm == "down":
        inst_f = f0 * (1 + syl.fm_depth / 2 - syl.fm_depth * phase01)
    elif syl.fm == "wobble":
        inst_f = f0 * (1 + syl.fm_depth / 2 * np.sin(2 * np.pi * 25.0 * t))
    else:
        inst_f = np.full(n, f0)
    phase = 2 * np.pi * np.cumsum(inst_f) / samplerate
    wave = np.zeros(n)
    for h in range(1, syl.n_harmonics + 1):
        if h * inst_f.max() < samplerate / 2 * 0.9:
            wave += np.sin(h * phase) / h
    n_att = max(int(syl.attack * n), 1)
    env = np.ones(n)
    env[:n_att] = np.sin(np.linspace(0, np.pi / 2, n_att)) ** 2
    n_rel = max(n // 5, 1)
    env[-n_rel:] = np.cos(np.linspace(0, np.pi / 2, n_rel)) ** 2
    return wave * env * rng.uniform(0.6, 1.0)


#: ``gaps`` of a corpus with short inter-syllable gaps, as some species sing: at least 3 ms,
#: ~13 ms on average, about a third of them under 10 ms (one or a few frames: easy to miss, and
#: gap filling may join two renditions of one syllable; docs/postprocessing.md)
SHORT_GAPS = (0.003, 0.0025)


def make_bout(
    repertoire: list[SyllableType],
    n_syllables: int,
    samplerate: int = 32000,
    snr_db: float = 20.0,
    seed: int = 0,
    gaps: tuple[float, float] = (0.008, 0.008),
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """One bout: audio (float32 in [-1, 1]) and its (onset_s, offset_s, label) segments.

    ``gaps``: ``(minimum, scale)`` in seconds of the silent gaps between syllables,
    ``minimum + Gamma(shape 4, scale)``: by default at least 8 ms, ~40 ms on average.
    """
    rng = np.random.default_rng(seed)
    trans = _transition_matrix(len(repertoire), np.random.default_rng(len(repertoire)))
    pieces, segments = [], []
    cursor = rng.uniform(0.15, 0.3)
    pieces.append(np.zeros(int(cursor * samplerate)))
    state = int(rng.integers(len(repertoire)))
    for _ in range(n_syllables):
        syl = repertoire[state]
        wave = _render(syl, samplerate, rng)
        onset = sum(len(p) for p in pieces) / samplerate
        pieces.append(wave)
        segments.append((onset, onset + len(wave) / samplerate, syl.label))
        gap = rng.gamma(shape=4.0, scale=gaps[1]) + gaps[0]  # default: mean ~40 ms, min 8 ms
        pieces.append(np.zeros(int(gap * samplerate)))
        state = int(rng.choice(len(repertoire), p=trans[state]))
    pieces.append(np.zeros(int(rng.uniform(0.15, 0.3) * samplerate)))
    song = np.concatenate(pieces)
    # background: white noise + low-frequency rumble + a few faint unannotated bursts
    signal_power = np.mean(np.concatenate([p for p in pieces if p.any()]) ** 2)
    noise = rng.standard_normal(song.size)
    rumble = np.convolve(rng.standard_normal(song.size), np.ones(64) / 8.0, mode="same")
    noise = noise + rumble
    noise *= np.sqrt(signal_power / 10 ** (snr_db / 10) / np.mean(noise**2))
    for _ in range(int(rng.integers(1, 4))):
        start = int(rng.integers(0, max(song.size - 2000, 1)))
        burst = rng.standard_normal(min(1600, song.size - start)) * np.sqrt(signal_power) * 0.15
        noise[start : start + burst.size] += burst
    audio = song + noise
    audio = audio / (np.abs(audio).max() + 1e-9) * 0.9
    return audio.astype(np.float32), segments


def make_corpus(
    out_dir: str | pathlib.Path,
    n_bouts: int = 20,
    syllables_per_bout: tuple[int, int] = (25, 45),
    n_types: int = 6,
    samplerate: int = 32000,
    snr_db: float = 20.0,
    seed: int = 0,
    progress: bool = False,
    gaps: tuple[float, float] = (0.008, 0.008),
) -> list[pathlib.Path]:
    """Write ``n_bouts`` WAV files and their ``simple-seq`` annotations to ``out_dir``.

    Returns the WAV paths.  Labels are ``a``, ``b``, ... (``n_types`` of them).  ``gaps``:
    see :func:`make_bout` (:data:`SHORT_GAPS`: many inter-syllable gaps under 10 ms).
    """
    import crowsetta  # vak depends on both
    import soundfile

    if n_bouts < 1:
        raise ValueError(f"n_bouts must be >= 1, got {n_bouts}")
    lo, hi = syllables_per_bout
    if not 1 <= lo <= hi:
        raise ValueError(f"syllables_per_bout must be (min, max) with 1 <= min <= max, got {syllables_per_bout}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    repertoire = make_repertoire(n_types, seed=seed)
    rng = np.random.default_rng(seed)
    paths = []
    live = progress and sys.stdout.isatty()  # one updating line on a terminal; lines in a log
    for i in range(n_bouts):
        audio, segments = make_bout(
            repertoire,
            int(rng.integers(lo, hi + 1)),
            samplerate=samplerate,
            snr_db=snr_db,
            seed=int(rng.integers(2**31)),
            gaps=gaps,
        )
        wav = out_dir / f"bout_{i:03d}.wav"
        soundfile.write(wav, audio, samplerate, subtype="PCM_16")
        onsets, offsets, labels = (np.array(column) for column in zip(*segments))
        annot_path = out_dir / f"{wav.name}.csv"
        crowsetta.formats.seq.SimpleSeq(
            onsets_s=onsets.round(6), offsets_s=offsets.round(6), labels=labels, annot_path=annot_path
        ).to_file(annot_path)
        paths.append(wav)
        if live:
            print(f"\rcorpus: {i + 1}/{n_bouts} bouts", end="" if i + 1 < n_bouts else "\n", flush=True)
        elif progress and ((i + 1) % 10 == 0 or i + 1 == n_bouts):
            print(f"corpus: {i + 1}/{n_bouts} bouts", flush=True)
    return paths
