"""``vak-tcn report``: one folder, ``index.html`` and its images, to review annotations offline.

:func:`build_report` computes everything (scores, differences, confusion, review queue), renders
the images once and writes the pages (docs/report.md).

Layout of the folder::

    index.html            summary, scores, review queue, recordings (worst first), labels, confusion
    summary.json          the same numbers, for scripts
    report-files.json     the files above, as written: a rerun removes these, and only these
    r0001.html            the first recording's first page (r0001-2.html: its second, ...)
    img/r0001/s00000.png  its strips, STRIP seconds each
    img/queue/q0001.png   the review queue's thumbnails
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import sys
import time

import numpy as np

from .. import _atomic
from . import compare, data, pages, render
from .outputs import ReportFiles
from .queue import RARE_TRANSITION, SHORT_FRACTION, review_queue

__all__ = ["ReportOptions", "build_report"]

QUEUE_RULE = (
    "Certainty of a predicted segment = probability &times; duration &times; transition, each in [0, 1]: "
    "the mean probability of its label over its frames (1 without <code>--probabilities</code>); "
    f"min(1, duration / ({SHORT_FRACTION:g} &times; its label's median duration)); "
    f"min(1, f<sub>in</sub> / {RARE_TRANSITION:g}, f<sub>out</sub> / {RARE_TRANSITION:g}), where f<sub>in</sub> is "
    "how often the previous segment's label is followed by this label and f<sub>out</sub> how often this label "
    "is followed by the next one, in the predicted sequences of all recordings. Lowest certainty first; ties by "
    "recording, then onset. The reason given is the smallest factor. Each thumbnail: the segment outlined "
    "on the spectrogram, the reference (when there is one) above the prediction; a click opens its place."
)


@dataclasses.dataclass(frozen=True)
class ReportOptions:
    tolerance: float = 0.004  # s, boundary tolerance (metrics and differences)
    strip_seconds: float = 10.0  # audio per image
    page_seconds: float = 300.0  # audio per HTML page of a recording
    queue: int | None = None  # review queue size (None: 2 % of segments, 20 to 300)


def _page_of(strip: int, per_page: int) -> int:
    return strip // per_page + 1


def _href(r: int, page: int) -> str:
    return f"r{r + 1:04d}.html" if page == 1 else f"r{r + 1:04d}-{page}.html"


def build_report(
    recordings: list[data.Recording],
    out: pathlib.Path,
    options: ReportOptions = ReportOptions(),
    meta: list[str] | None = None,
    echo=None,
    files: ReportFiles | None = None,
    unmatched_references: list[tuple[str, str]] = (),
) -> pathlib.Path:
    """Write the report of ``recordings`` into ``out``; return ``out/index.html``.

    ``files``: the report's files in ``out`` (:class:`~.outputs.ReportFiles`; made here when None, and
    then cleaned here on failure): the previous report's are removed, anything else is kept, and a file
    that is not the report's under a name it writes is refused before anything is written.
    ``unmatched_references``: ``(file, recording name)`` of references that match no recording.
    """
    own = files is None
    files = files or ReportFiles(out)
    try:
        return _build(recordings, pathlib.Path(out), options, meta, echo, files, list(unmatched_references))
    except BaseException:
        if own:
            files.abort()
        raise


def _planned(recordings: list[data.Recording], options: ReportOptions, n_queue: int) -> list[str]:
    """The files a report writes, relative to its folder (the list itself aside)."""
    per_page = max(1, int(round(options.page_seconds / options.strip_seconds)))
    names = ["index.html", "summary.json"]
    for r, rec in enumerate(recordings):
        count = max(1, math.ceil(rec.duration / options.strip_seconds))
        names += [f"img/r{r + 1:04d}/s{s:05d}.png" for s in range(count)]
        names += [_href(r, page) for page in range(1, _page_of(count - 1, per_page) + 1)]
    return names + [f"img/queue/q{k:04d}.png" for k in range(1, n_queue + 1)]


def _build(recordings, out: pathlib.Path, options, meta, echo, files: ReportFiles, unmatched) -> pathlib.Path:
    from tqdm import tqdm

    from .._version import __version__

    echo = echo or tqdm.write
    t0 = time.perf_counter()
    tol = options.tolerance
    has_ref = any(rec.reference is not None for rec in recordings)
    labels = sorted({x for rec in recordings for s in rec.predictions.values() for x in s.labels.tolist()}
                    | {x for rec in recordings if rec.reference is not None for x in rec.reference.labels.tolist()})  # fmt: skip
    renderer = render.Renderer(labels, tol)

    # ---- numbers
    rows, frame_pairs, segment_pairs = [], [], []
    for rec in recordings:
        row = {
            "name": rec.name,
            "audio": None if rec.audio is None else str(rec.audio),
            "annotation": str(rec.annotation),
            "reference_file": rec.reference_file,
            "duration": rec.duration,
            "song_time": rec.predicted.song_time(),
            "n_segments": len(rec.predicted),
            "counts": rec.predicted.counts(),
            "diffs": {},
        }
        if rec.reference is not None:
            times = compare.frame_grid(rec.duration, rec.probabilities)
            row["reference_counts"] = rec.reference.counts()
            row["scores"], row["diff_counts"] = {}, {}
            for version, segments in rec.predictions.items():
                row["scores"][version] = compare.file_scores(segments, rec.reference, times, tol)
                row["diffs"][version] = compare.diff(segments, rec.reference, tol)
                row["diff_counts"][version] = row["diffs"][version].counts()
            frame_pairs.append((compare.frame_labels(rec.predicted, times), compare.frame_labels(rec.reference, times)))
            segment_pairs.append((rec.predicted, rec.reference))
        rows.append(row)
    order = sorted(
        range(len(recordings)),
        key=lambda r: (
            "scores" not in rows[r],
            *(-rows[r]["scores"][next(iter(rows[r]["scores"]))][k] if "scores" in rows[r] else 0.0
              for k in ("cer", "frame_error")),
            rows[r]["name"],
        ),
    )  # fmt: skip
    mean_scores = label_rows = confusion = None
    if has_ref:
        scored = [rows[r] for r in order if "scores" in rows[r]]
        versions = list(scored[0]["scores"])
        mean_scores = {
            "scores": {v: {k: float(np.mean([r["scores"][v][k] for r in scored])) for k in scored[0]["scores"][v]}
                       for v in versions},
            "diff_counts": {v: {k: int(sum(r["diff_counts"][v][k] for r in scored)) for k in compare.KINDS}
                            for v in versions},
        }  # fmt: skip
        confusion = compare.confusion(frame_pairs)
        names, counts = confusion
        per_label = compare.label_scores(segment_pairs, tol)
        label_rows = []
        for label in [n for n in names if n != compare.BACKGROUND]:
            k = names.index(label)
            total = int(counts[k].sum())
            label_rows.append(
                {"label": label, **per_label.get(label, {}),
                 "frame_error": 1.0 - counts[k, k] / total if total else None}
            )  # fmt: skip
        for r in label_rows:
            r.setdefault("n_reference", 0)
            r.setdefault("n_predicted", 0)
            for key in ("precision", "recall", "fscore"):
                r.setdefault(key, None)

    # ---- pages and images
    per_page = max(1, int(round(options.page_seconds / options.strip_seconds)))
    queue = review_queue(recordings, options.queue)
    planned = _planned(recordings, options, len(queue))
    files.mkdir(out)
    files.claim(planned)  # before anything is written
    files.replace_previous(planned)  # the previous report's files go; this run's are listed
    n_strips = sum(max(1, math.ceil(rec.duration / options.strip_seconds)) for rec in recordings)
    bar = tqdm(total=n_strips + len(queue), unit="image", desc="report", leave=False, file=sys.stderr)
    try:
        for r, (rec, row) in enumerate(zip(recordings, rows)):
            t1 = time.perf_counter()
            count = max(1, math.ceil(rec.duration / options.strip_seconds))
            folder = out / "img" / f"r{r + 1:04d}"
            files.mkdir(folder)
            strips = []
            for s in range(count):
                start = s * options.strip_seconds  # every strip the same length (the last runs past the end)
                stop = start + options.strip_seconds if rec.duration > options.strip_seconds else rec.duration
                stop = max(stop, start + 1e-3)
                path = folder / f"s{s:05d}.png"
                renderer.strip(rec, start, stop, row["diffs"], path)
                width, height = _png_size(path)
                strips.append({"id": f"s{s:05d}", "start": start, "stop": stop, "width": width, "height": height,
                               "src": pages.relative(path, out)})  # fmt: skip
                bar.update(1)
            n_pages = _page_of(count - 1, per_page)
            row["href"], row["pages"] = _href(r, 1), n_pages
            for page in range(1, n_pages + 1):
                text = pages.recording_page(
                    rec=row, page=page, n_pages=n_pages, strips=strips[(page - 1) * per_page : page * per_page],
                    labels=labels, colours=renderer.colours,
                    diff_colours=render.DIFF_COLOURS if rec.reference is not None else None,
                    index_href="index.html", page_href=lambda k, r=r: _href(r, k),
                )  # fmt: skip
                _atomic.write_text(out / _href(r, page), text)
            row["strip_hrefs"] = [f"{_href(r, _page_of(s, per_page))}#s{s:05d}" for s in range(count)]
            echo(
                f"{rec.name}: {rec.duration:.1f} s, {len(rec.predicted)} segments, {count} image(s), "
                f"{n_pages} page(s), {time.perf_counter() - t1:.1f} s"
            )
        queue_rows = []
        if queue:
            files.mkdir(out / "img" / "queue")
        for k, entry in enumerate(queue, 1):
            rec, row = recordings[entry.recording], rows[entry.recording]
            seg = rec.predicted
            path = out / "img" / "queue" / f"q{k:04d}.png"
            renderer.thumbnail(rec, entry.segment, path)
            width, height = _png_size(path)
            strip = min(int(seg.onsets[entry.segment] // options.strip_seconds), len(row["strip_hrefs"]) - 1)
            queue_rows.append({
                "recording": rec.name, "segment": entry.segment, "onset": float(seg.onsets[entry.segment]),
                "offset": float(seg.offsets[entry.segment]), "label": str(seg.labels[entry.segment]),
                "certainty": entry.certainty, "factors": entry.factors, "reason": entry.reason,
                "href": row["strip_hrefs"][strip], "src": pages.relative(path, out), "width": width, "height": height,
            })  # fmt: skip
            bar.update(1)
    finally:
        bar.close()
        renderer.close()

    # ---- index and summary.json
    total_audio = sum(rec.duration for rec in recordings)
    total_song = sum(row["song_time"] for row in rows)
    n_segments = sum(row["n_segments"] for row in rows)
    summary = (
        f"{len(recordings)} recording(s), {total_audio / 60:.1f} min of audio, {total_song:.1f} s of song in "
        f"{n_segments} predicted segments, {len(labels)} label(s)"
    )
    if has_ref:
        n_ref = sum(1 for rec in recordings if rec.reference is not None)
        summary += f"; {n_ref} recording(s) with a reference"
    notes = [
        f"Boundary tolerance &plusmn;{tol * 1000:g} ms. Differences: prediction and reference segments paired one "
        "to one, largest overlap (IoU) first; <i>missed</i>: a reference segment left unpaired; <i>extra</i>: a "
        "predicted one; <i>wrong label</i>: a pair whose labels differ; <i>boundary</i>: a pair whose onsets or "
        "offsets differ by more than the tolerance.",
        "Frame error on the model's frames when probabilities were written, else on 1-ms frames; CER = "
        "Levenshtein distance of the label sequences / reference length (vak's); boundary precision, recall, F, "
        "edit score and F1@50 from vak_tcn.metrics.score_annotations. Per label: boundaries of that label's "
        "segments alone, hits summed over files; frame error = reference frames of that label predicted otherwise.",
    ]
    index = pages.index_page(
        title="vak-tcn annotation review",
        meta=[*(meta or []), f"vak-tcn {pages.escape(__version__)}, {time.strftime('%Y-%m-%d %H:%M')}"],
        summary=summary,
        recordings=[rows[r] for r in order],
        labels=labels,
        queue=queue_rows,
        queue_rule=QUEUE_RULE,
        mean_scores=mean_scores,
        label_rows=label_rows,
        confusion=confusion,
        colours=renderer.colours,
        diff_colours=render.DIFF_COLOURS if has_ref else None,
        notes=notes,
    )
    json_rows = [{k: v for k, v in rows[r].items() if k not in ("diffs", "strip_hrefs")} for r in order]
    report = {
        "recordings": json_rows,
        "labels": labels,
        "queue": queue_rows,
        "mean_scores": mean_scores,
        "label_scores": label_rows,
        "confusion": None if confusion is None else {"labels": confusion[0], "frames": confusion[1].tolist()},
        "tolerance": tol,
        "strip_seconds": options.strip_seconds,
        "unmatched_references": [{"file": f, "recording": name} for f, name in unmatched],
    }
    _atomic.write_text(out / "summary.json", json.dumps(report, indent=1, default=float) + "\n")
    path = _atomic.write_text(out / "index.html", index)
    files.done()
    echo(f"report of {len(recordings)} recording(s), {n_strips} image(s) in {time.perf_counter() - t0:.1f} s -> {path}")
    return path


def _png_size(path: pathlib.Path) -> tuple[int, int]:
    head = path.read_bytes()[16:24]
    return int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big")
