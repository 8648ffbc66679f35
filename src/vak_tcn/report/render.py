"""The report's images: spectrogram strips with segments drawn under them, and review thumbnails.

matplotlib (Agg), rendered once, saved as palette PNGs (a spectrogram in 128 colours is a third of
its RGB size).  A strip covers a fixed number of seconds; its spectrogram is computed from the audio
of that stretch alone (read with a seek, never the whole recording), with one column per pixel, so
the cost of a strip does not depend on the recording's length.
"""

from __future__ import annotations

import functools
import io
import pathlib

import numpy as np

from .compare import Diff
from .data import Recording, Segments

__all__ = ["DIFF_COLOURS", "Renderer", "label_colours", "read_audio", "spectrogram"]

#: colours of the difference row (the HTML legend uses the same)
DIFF_COLOURS = {"missed": "#e8000b", "extra": "#1a1a1a", "wrong label": "#8b2be2", "boundary": "#ffc400"}
FMAX = 12000.0  # Hz, top of the spectrograms (or half the sample rate)
DYNAMIC_RANGE = 70.0  # dB shown below a strip's loudest bin
DPI = 100
STRIP_WIDTH = 13.0  # inches: 1300 pixels
SPECT_HEIGHT, TRACK_HEIGHT, PROB_HEIGHT, DIFF_HEIGHT, AXIS_HEIGHT = 1.3, 0.26, 0.32, 0.16, 0.3
LEFT, RIGHT = 0.9, 0.15  # inches: room for the rows' names
PALETTE_COLOURS = 128
THUMB_WIDTH, THUMB_SPECT, THUMB_TRACK = 2.8, 1.0, 0.2  # inches


def label_colours(labels) -> dict[str, str]:
    """One colour per label, the same on every page: light colours (tab20's light ones, then Pastel2's,
    then again), so that the differences, in saturated colours of their own, stand out."""
    from matplotlib import colormaps

    palette = [colormaps["tab20"](2 * k + 1) for k in range(10)] + [colormaps["Pastel2"](k) for k in range(8)]
    order = sorted({str(x) for x in labels})
    return {label: _hex(palette[k % len(palette)]) for k, label in enumerate(order)}


def _hex(rgba) -> str:
    return "#" + "".join(f"{int(round(255 * c)):02x}" for c in rgba[:3])


@functools.lru_cache(maxsize=2)
def _cbin(path: str) -> tuple[np.ndarray, int]:
    from ..plugins import vak_files

    data, rate = vak_files.read_cbin(path)  # vak's reader (evfuncs), without importing vak
    return np.asarray(data, dtype=np.float64), int(rate)


def read_audio(path: pathlib.Path, start: float, stop: float) -> tuple[np.ndarray, int]:
    """Samples of ``[start, stop)`` seconds (first channel), float64, and the sample rate."""
    if pathlib.Path(path).suffix.lower() == ".cbin":
        data, rate = _cbin(str(path))
        return data[max(int(start * rate), 0) : max(int(stop * rate), 0)], rate
    import soundfile

    with soundfile.SoundFile(str(path)) as f:
        rate = f.samplerate
        first = min(max(int(start * rate), 0), f.frames)
        f.seek(first)
        data = f.read(max(int(stop * rate), 0) - first, dtype="float64", always_2d=True)
    return data[:, 0], rate


def spectrogram(path: pathlib.Path, start: float, stop: float, columns: int) -> tuple[np.ndarray, float]:
    """``(dB image (freqs, columns), top frequency)`` of ``[start, stop)``: one FFT (Hann, ~12 ms)
    centred on each column's time."""
    rate = read_audio(path, 0, 0)[1]
    nfft = int(2 ** np.ceil(np.log2(0.012 * rate)))
    audio, _ = read_audio(path, start - nfft / 2 / rate, stop + nfft / 2 / rate)
    first = int((start - nfft / 2 / rate) * rate)
    pad_left = max(-first, 0)
    needed = int((stop - start) * rate) + nfft + 1
    audio = np.pad(audio, (pad_left, max(needed - pad_left - audio.size, 0)))
    centres = ((np.arange(columns) + 0.5) * (stop - start) / columns * rate).astype(int)
    frames = audio[centres[:, None] + np.arange(nfft)[None, :]] * np.hanning(nfft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    fmax = min(FMAX, rate / 2)
    keep = int(round(fmax / (rate / nfft))) + 1
    return 10 * np.log10(power[:, :keep].T + 1e-20), fmax


@functools.lru_cache(maxsize=1)
def _font():
    """matplotlib's own DejaVu Sans for PIL, at the strips' label size (7 pt at 100 dpi)."""
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size=round(7 * DPI / 72))


def _save_png(fig, path: pathlib.Path, labels=()) -> None:
    """The figure as a palette PNG, with ``labels`` ``(axes, x in data, text)`` written by PIL at the
    middle of their axes' height (matplotlib's text layout costs a millisecond a label: most of a
    strip's time with a hundred segments)."""
    from PIL import Image, ImageDraw

    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    if labels:
        draw, font = ImageDraw.Draw(image), _font()
        for ax, x, text in labels:
            (px, _), (_, py) = ax.transData.transform((x, 0)), ax.transAxes.transform((0, 0.5))
            draw.text((px, height - py), text, fill="black", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG")
    pathlib.Path(path).write_bytes(buffer.getvalue())


class Renderer:
    """Draws the strips and thumbnails of one report: the same label colours everywhere.

    One matplotlib figure per layout (which rows a strip has), made once and reused: each image
    adds its artists, is saved, and removes them (a new figure with its axes costs more than the
    drawing).  :meth:`close` frees the figures.
    """

    def __init__(self, labels, tolerance: float):
        import matplotlib

        matplotlib.use("Agg")
        self.colours = label_colours(labels)
        self.tolerance = tolerance
        self._figures: dict = {}
        self._added: list = []
        self._labels: list = []

    def close(self) -> None:
        import matplotlib.pyplot as plt

        for fig, _ in self._figures.values():
            plt.close(fig)
        self._figures.clear()

    def _add(self, artist):
        self._added.append(artist)
        return artist

    def _save(self, fig, path: pathlib.Path) -> None:
        try:
            _save_png(fig, path, self._labels)
        finally:
            for artist in self._added:
                artist.remove()
            self._added.clear()
            self._labels.clear()

    # ------------------------------------------------------------ pieces
    def _spectrogram(self, ax, rec: Recording, start: float, stop: float, columns: int) -> float:
        if rec.audio is None:  # an annotation with no segment whose audio was not found
            fmax = FMAX
            self._add(ax.text(0.5, 0.5, "audio not found: no spectrogram", transform=ax.transAxes, ha="center",
                              va="center", fontsize=8, color="#666"))  # fmt: skip
            ax.set_xlim(start, stop)
            ax.set_ylim(0, fmax)
            return fmax
        image, fmax = spectrogram(rec.audio, start, stop, columns)
        top = float(image.max())
        floor = max(float(np.median(image)), top - DYNAMIC_RANGE)
        self._add(ax.imshow(
            image, origin="lower", aspect="auto", cmap="magma", vmin=floor, vmax=top,
            extent=(start, stop, 0, fmax), interpolation="nearest",
        ))  # fmt: skip
        ax.set_xlim(start, stop)
        ax.set_ylim(0, fmax)
        return fmax

    def _track(self, ax, segments: Segments, start: float, stop: float, text: bool = True) -> None:
        idx = segments.between(start, stop)
        for label in np.unique(segments.labels[idx]):
            sel = idx[segments.labels[idx] == label]
            spans = list(zip(segments.onsets[sel], segments.durations[sel]))
            colour = self.colours.get(str(label), "#888888")
            self._add(ax.broken_barh(spans, (0, 1), facecolors=colour, edgecolor="black", lw=0.3))
        if text:
            min_width = (stop - start) * 0.006
            for i in idx[segments.durations[idx] >= min_width]:
                centre = (max(segments.onsets[i], start) + min(segments.offsets[i], stop)) / 2
                self._labels.append((ax, centre, str(segments.labels[i])))
        ax.set_xlim(start, stop)

    @staticmethod
    def _row(ax, name: str) -> None:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_xticks([])
        ax.text(-0.005, 0.5, name, transform=ax.transAxes, ha="right", va="center", fontsize=7)
        for spine in ax.spines.values():
            spine.set_linewidth(0.4)

    def _diff_row(self, ax, predicted: Segments, reference: Segments, d: Diff, start: float, stop: float) -> None:
        spans = {kind: [] for kind in DIFF_COLOURS}
        p_here, r_here = predicted.between(start, stop), reference.between(start, stop)
        for j in r_here[d.reference_kind[r_here] == "missed"]:
            spans["missed"].append((reference.onsets[j], reference.offsets[j]))
        for i in p_here[d.predicted_kind[p_here] == "extra"]:
            spans["extra"].append((predicted.onsets[i], predicted.offsets[i]))
        for i in p_here[d.predicted_kind[p_here] == "wrong label"]:
            j = d.predicted_partner[i]
            spans["wrong label"].append((max(predicted.onsets[i], reference.onsets[j]),
                                         min(predicted.offsets[i], reference.offsets[j])))  # fmt: skip
        for i in p_here[d.predicted_kind[p_here] == "boundary"]:
            j = d.predicted_partner[i]
            for a, b in ((predicted.onsets[i], reference.onsets[j]), (predicted.offsets[i], reference.offsets[j])):
                if abs(a - b) > self.tolerance:
                    lo, hi = min(a, b), max(a, b)
                    spans["boundary"].append((lo, hi))
        visible = (stop - start) / 400  # 3 pixels: a one-frame extra segment shows
        for kind, items in spans.items():
            items = [(a, max(b - a, visible)) for a, b in items if b > start and a < stop]
            if items:
                self._add(ax.broken_barh(items, (0, 1), facecolors=DIFF_COLOURS[kind], lw=0))
        ax.set_xlim(start, stop)

    def _probability_row(self, ax, rec: Recording, start: float, stop: float, columns: int) -> None:
        prob = rec.probabilities
        a, b = np.searchsorted(prob.frame_times, [start, stop])
        if b > a:
            values = prob.values[:, a:b].max(axis=0)
            step = max(1, (b - a) // columns)
            lowest = np.minimum.reduceat(values, np.arange(0, values.size, step))
            self._add(ax.plot(prob.frame_times[a:b][::step], lowest, lw=0.6, color="#333")[0])
        ax.set_xlim(start, stop)

    # ------------------------------------------------------------ images
    @staticmethod
    def _rows(rec: Recording) -> tuple:
        rows = []
        if rec.probabilities is not None:
            rows.append(("prob", PROB_HEIGHT))
        if rec.reference is not None:
            rows.append(("reference", TRACK_HEIGHT))
        for version in rec.predictions:
            if rec.reference is not None:
                rows.append((("diff", version), DIFF_HEIGHT))
            rows.append((("pred", version), TRACK_HEIGHT))
        return tuple(rows)

    def _strip_figure(self, rows: tuple):
        """The figure of a strip layout and its axes (spectrogram first), made once."""
        if ("strip", rows) not in self._figures:
            import matplotlib.pyplot as plt

            height = AXIS_HEIGHT + SPECT_HEIGHT + sum(h for _, h in rows) + 0.1
            fig = plt.figure(figsize=(STRIP_WIDTH, height), dpi=DPI)
            width = (STRIP_WIDTH - LEFT - RIGHT) / STRIP_WIDTH
            top = height - 0.05
            spect = fig.add_axes((LEFT / STRIP_WIDTH, (top - SPECT_HEIGHT) / height, width, SPECT_HEIGHT / height))
            spect.tick_params(labelsize=7, length=2, pad=1)
            spect.set_ylabel("kHz", fontsize=7, labelpad=1)
            spect.set_xticks([])
            top -= SPECT_HEIGHT
            axes = [spect]
            for kind, h in rows:
                ax = fig.add_axes((LEFT / STRIP_WIDTH, (top - h) / height, width, h / height))
                top -= h
                names = {"prob": "p(max)", "reference": "reference"}
                self._row(ax, names.get(kind) or ("differences" if kind[0] == "diff" else kind[1]))
                if kind == "prob":
                    ax.axhline(0.5, color="#bbb", lw=0.4)
                axes.append(ax)
            axes[-1].tick_params(axis="x", length=2, pad=1, labelsize=7)
            axes[-1].set_xlabel("s", fontsize=7, labelpad=0, loc="right")
            self._figures[("strip", rows)] = (fig, axes)
        return self._figures[("strip", rows)]

    def strip(self, rec: Recording, start: float, stop: float, diffs: dict[str, Diff], path: pathlib.Path) -> None:
        """One strip of ``[start, stop)``: spectrogram, probability of the winning class (when known),
        the reference, the differences and each version of the predictions."""
        rows = self._rows(rec)
        fig, axes = self._strip_figure(rows)
        columns = int(round((STRIP_WIDTH - LEFT - RIGHT) * DPI))
        fmax = self._spectrogram(axes[0], rec, start, stop, columns)
        axes[0].set_yticks([0, fmax / 2, fmax], ["0", f"{fmax / 2000:g}", f"{fmax / 1000:g}"])
        for ax, (kind, _) in zip(axes[1:], rows):
            if kind == "prob":
                self._probability_row(ax, rec, start, stop, columns)
            elif kind == "reference":
                self._track(ax, rec.reference, start, stop)
            elif kind[0] == "diff":
                self._diff_row(ax, rec.predictions[kind[1]], rec.reference, diffs[kind[1]], start, stop)
            else:
                self._track(ax, rec.predictions[kind[1]], start, stop)
        ticks = np.arange(np.ceil(start), np.floor(stop) + 1e-9, 1.0 if stop - start <= 20 else 5.0)
        axes[-1].set_xticks(ticks, [f"{t:g}" for t in ticks])
        self._save(fig, path)

    def thumbnail(self, rec: Recording, index: int, path: pathlib.Path) -> None:
        """A small image around predicted segment ``index``: spectrogram, the segment outlined, and
        the reference (when there is one) above the reviewed prediction under it."""
        from matplotlib.patches import Rectangle

        seg = rec.predicted
        onset, offset = float(seg.onsets[index]), float(seg.offsets[index])
        half = max(0.35, 1.5 * (offset - onset))
        start, stop = max(0.0, (onset + offset) / 2 - half), min(rec.duration, (onset + offset) / 2 + half)
        tracks = ([rec.reference] if rec.reference is not None else []) + [seg]
        if ("thumbnail", len(tracks)) not in self._figures:
            import matplotlib.pyplot as plt

            w, h = THUMB_WIDTH, THUMB_SPECT + THUMB_TRACK * len(tracks) + 0.05
            fig = plt.figure(figsize=(w, h), dpi=DPI)
            axes = [fig.add_axes((0.01, 1 - (THUMB_SPECT + 0.03) / h, 0.98, THUMB_SPECT / h))]
            axes[0].set_axis_off()
            for k in range(len(tracks)):
                bottom = 1 - (THUMB_SPECT + 0.03 + THUMB_TRACK * (k + 1)) / h
                axes.append(fig.add_axes((0.01, bottom, 0.98, THUMB_TRACK / h)))
                self._row(axes[-1], "")
            self._figures[("thumbnail", len(tracks))] = (fig, axes)
        fig, axes = self._figures[("thumbnail", len(tracks))]
        fmax = self._spectrogram(axes[0], rec, start, stop, int(0.98 * THUMB_WIDTH * DPI))
        rect = Rectangle((onset, 0), offset - onset, fmax, fill=False, edgecolor="#00e5ff", lw=1.2)
        self._add(axes[0].add_patch(rect))
        for ax, segments in zip(axes[1:], tracks):
            self._track(ax, segments, start, stop)
        self._save(fig, path)
