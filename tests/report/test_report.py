"""``vak-tcn report``: the pages' numbers against the project's metric functions, known differences,
the review queue's documented order, paging, and mistakes as one line (exit status 2)."""

from __future__ import annotations

import html
import json
import pathlib
import re
import shutil

import crowsetta
import numpy as np
import pytest
import soundfile

from vak_tcn import metrics
from vak_tcn.report import compare
from vak_tcn.report.data import Probabilities, Segments
from vak_tcn.report.pages import fmt

from helpers.cli import cli_in_process
from helpers.data import REAL_BOUT
from helpers.report import (
    annotate_real_bout,
    certainties_the_long_way,
    perturb,
    queue_captions,
    read_simple_seq,
    summary,
    write_prediction,
)

#: what each demo bout's prediction gets wrong (helpers.report.perturb), and its planted low probabilities
DEMO = {"bout_000": ("missed", {4: 0.3}), "bout_001": ("wrong", {6: 0.4}), "bout_002": ("extra", {1: 0.2})}
CLASSES = ["background", "a", "b", "c", "d"]
MB = 1024 * 1024


def report(capsys, *args, expect: int = 0):
    proc = cli_in_process(capsys, "report", *args)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def read_generic_seq(path: pathlib.Path) -> Segments:
    seq = crowsetta.Transcriber(format="generic-seq").from_file(path).to_annot()[0].seq
    return Segments.of(seq.onsets_s, seq.offsets_s, seq.labels)


def check_page_weights(out: pathlib.Path, limit: float = 5 * MB) -> None:
    """Every page with the images it shows stays under ``limit``; every image it names exists."""
    for page in out.glob("*.html"):
        text = page.read_text()
        images = re.findall(r'src="([^"]+)"', text)
        for src in images:
            assert (out / html.unescape(src)).is_file(), f"{page.name}: {src} missing"
        weight = page.stat().st_size + sum((out / html.unescape(s)).stat().st_size for s in set(images))
        assert weight < limit, f"{page.name}: {weight / MB:.1f} MB"


@pytest.fixture(scope="module")
def demo(tmp_path_factory, song_dir):
    """Three demo-corpus bouts, their predictions with one known difference each, and probabilities."""
    tmp = tmp_path_factory.mktemp("report-demo")
    ann = tmp / "annotations"
    ann.mkdir()
    truth = {}
    for name, (how, low) in DEMO.items():
        audio = song_dir / f"{name}.wav"
        truth[name] = read_simple_seq(song_dir / f"{name}.wav.csv")
        write_prediction(ann, audio, perturb(*truth[name], how), low, CLASSES, soundfile.info(str(audio)).duration)
    return dict(tmp=tmp, ann=ann, truth=truth)


def test_demo_annotations_only_counts_and_queue_order(demo, capsys):
    out = demo["tmp"] / "report-only"
    proc = report(capsys, demo["ann"], "--out", out, "--queue", 12)
    assert "report of 3 recording(s)" in proc.stdout + proc.stderr
    index = (out / "index.html").read_text()
    s = summary(out)
    assert "<script" not in index.lower() and "http" not in index.replace("http-equiv", "")  # offline
    for rec in s["recordings"]:
        predicted = read_generic_seq(demo["ann"] / f"{rec['name']}.annot.csv")
        assert rec["n_segments"] == len(predicted)
        assert rec["counts"] == predicted.counts()
        assert "scores" not in rec
        page = (out / rec["href"]).read_text()
        assert f"in {len(predicted)} segments" in page
        labels = re.findall(r"<th>(\w)</th>", page.split("<tr><td", 1)[0])
        counts = re.search(r'<td class="name">predicted</td>((?:<td>\d+</td>)+)', page).group(1)
        assert dict(zip(labels, map(int, re.findall(r"\d+", counts)))) == {
            label: predicted.counts().get(label, 0) for label in labels
        }
    # the review queue: docs/report.md's rule computed segment by segment, then the page's order
    recordings = []
    for name in DEMO:
        seg = read_generic_seq(demo["ann"] / f"{name}.wav.annot.csv")
        prob = Probabilities.read(demo["ann"] / f"{name}.wav.probabilities.npz")
        p = [
            prob.of_label(str(lab), Segments.of([a], [b], [lab]))[0]
            for a, b, lab in zip(*map(list, (seg.onsets, seg.offsets, seg.labels)))
        ]  # noqa: E501
        recordings.append(
            dict(name=f"{name}.wav", onsets=seg.onsets, offsets=seg.offsets, labels=seg.labels, probability=p)
        )
    expected = certainties_the_long_way(recordings)[:12]
    assert [(q["recording"], q["onset"]) for q in s["queue"]] == [(n, o) for _, n, o in expected]
    assert np.allclose([q["certainty"] for q in s["queue"]], [c for c, _, _ in expected])
    assert [(n, round(o, 2)) for n, o in queue_captions(index)] == [(n, round(o, 2)) for _, n, o in expected]
    # the planted low probabilities come in their order, the lowest first
    planted = sorted((p, f"{name}.wav") for name, (_, low) in DEMO.items() for p in low.values())
    ranks = [next(k for k, q in enumerate(s["queue"]) if q["recording"] == n and q["reason"] == "low probability"
                  and abs(q["factors"]["probability"] - p) < 1e-6) for p, n in planted]  # fmt: skip
    assert ranks == sorted(ranks)
    check_page_weights(out)


def test_demo_with_references_differences_and_metrics(demo, song_dir, capsys):
    out = demo["tmp"] / "report-ref"
    report(capsys, demo["ann"], "--out", out, "--reference", song_dir, "--reference-format", "simple-seq")
    s = summary(out)
    index = (out / "index.html").read_text()
    assert [r["name"] for r in s["recordings"]] == sorted(
        (r["name"] for r in s["recordings"]),
        key=lambda n: [
            -x
            for x in (
                s["recordings"][[r["name"] for r in s["recordings"]].index(n)]["scores"]["prediction"][k]
                for k in ("cer", "frame_error")
            )
        ],  # noqa: E501
    ), "worst first"
    expected_kind = {"missed": "missed", "wrong": "wrong label", "extra": "extra"}
    for rec in s["recordings"]:
        name = rec["name"].removesuffix(".wav")
        d = rec["diff_counts"]["prediction"]
        kind = expected_kind[DEMO[name][0]]
        assert d[kind] == 1 and sum(d[k] for k in ("missed", "extra", "wrong label", "boundary")) == 1, d
        on, off, lab = demo["truth"][name]
        ref = Segments.of(on, off, lab)
        pred = read_generic_seq(demo["ann"] / f"{rec['name']}.annot.csv")
        scores = rec["scores"]["prediction"]
        expected = metrics.score_annotations(
            crowsetta.Transcriber(format="generic-seq")
            .from_file(demo["ann"] / f"{rec['name']}.annot.csv")
            .to_annot()[0],
            crowsetta.Transcriber(format="simple-seq").from_file(song_dir / f"{rec['name']}.csv").to_annot(),
            tolerance=0.004,
        )
        for key, value in expected.items():
            assert scores[key] == pytest.approx(value), key
        assert scores["cer"] == pytest.approx(metrics.levenshtein(list(pred.labels), list(lab)) / len(lab))
        assert rec["reference_counts"] == ref.counts()
        assert f"<td>{fmt(scores['cer'])}</td>" in index and f"<td>{fmt(scores['fscore'])}</td>" in index
    # the confusion matrix: every frame of every file once; frame error = off-diagonal frames
    frames = np.array(s["confusion"]["frames"])
    prob = Probabilities.read(demo["ann"] / "bout_000.wav.probabilities.npz")
    assert frames.sum() == sum(
        Probabilities.read(demo["ann"] / f"{n}.wav.probabilities.npz").frame_times.size for n in DEMO
    )
    assert prob.frame_times.size > 0
    mean_frame_error = np.mean([r["scores"]["prediction"]["frame_error"] for r in s["recordings"]])
    assert s["mean_scores"]["scores"]["prediction"]["frame_error"] == pytest.approx(mean_frame_error)
    assert "Confusion of labels" in index and "differences:" in index


def test_boundary_off_by_more_than_the_tolerance_and_not_by_less():
    ref = Segments.of([0.1, 0.3, 0.5], [0.2, 0.4, 0.6], ["a", "b", "a"])
    pred = Segments.of([0.1, 0.303, 0.5], [0.2, 0.4, 0.61], ["a", "b", "a"])
    d = compare.diff(pred, ref, tolerance=0.004)
    assert d.predicted_kind.tolist() == ["ok", "ok", "boundary"]
    assert d.counts() == {"ok": 2, "boundary": 1, "wrong label": 0, "missed": 0, "extra": 0}


@pytest.fixture(scope="module")
def real_bout(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report-real")
    audio = tmp / "audio"
    audio.mkdir()
    shutil.copy(REAL_BOUT / "bout_1.wav", audio / "bout_1.wav")
    return dict(tmp=tmp, audio=audio, ann=annotate_real_bout(tmp, audio / "bout_1.wav"))


def test_real_bout_with_its_notmat_reference(real_bout, capsys):
    """annotate's real outputs (records, probabilities) against the hand annotation (.not.mat, guessed)."""
    out = real_bout["tmp"] / "report"
    report(capsys, real_bout["ann"], "--out", out, "--reference", REAL_BOUT, "--strip-seconds", 5)
    s = summary(out)
    (rec,) = s["recordings"]
    pred = read_generic_seq(real_bout["ann"] / "bout_1.wav.annot.csv")
    ref = crowsetta.Transcriber(format="notmat").from_file(REAL_BOUT / "bout_1.wav.not.mat").to_annot()
    assert rec["n_segments"] == len(pred) and sum(rec["reference_counts"].values()) == 55
    expected = metrics.score_annotations(
        crowsetta.Transcriber(format="generic-seq").from_file(real_bout["ann"] / "bout_1.wav.annot.csv").to_annot()[0],
        ref,
    )
    for key, value in expected.items():
        assert rec["scores"]["prediction"][key] == pytest.approx(value), key
    prob = Probabilities.read(real_bout["ann"] / "bout_1.wav.probabilities.npz")
    times = prob.frame_times
    ref_seg = Segments.of(ref.seq.onsets_s, ref.seq.offsets_s, ref.seq.labels)
    frame_error = np.mean(compare.frame_labels(pred, times) != compare.frame_labels(ref_seg, times))
    assert rec["scores"]["prediction"]["frame_error"] == pytest.approx(frame_error)
    assert len(list((out / "img" / "r0001").glob("*.png"))) == 2  # 8.5 s in 5-s strips
    # per label: that label's boundaries alone, with the project's function
    a = ref_seg.labels == "a"
    b = metrics.boundary_precision_recall_fscore(
        metrics.boundaries_from_segments(pred.onsets[pred.labels == "a"], pred.offsets[pred.labels == "a"]),
        metrics.boundaries_from_segments(ref_seg.onsets[a], ref_seg.offsets[a]),
    )
    (row,) = [r for r in s["label_scores"] if r["label"] == "a"]
    assert row["recall"] == pytest.approx(b["recall"]) and row["n_reference"] == int(a.sum())
    check_page_weights(out)


def test_long_recording_is_paged(real_bout, capsys, tmp_path):
    """One page per --page-seconds of audio; queue thumbnails link to the page of their strip."""
    out = tmp_path / "paged"
    report(capsys, real_bout["ann"], "--out", out, "--strip-seconds", 1, "--page-seconds", 3, "--queue", 3)
    assert sorted(p.name for p in out.glob("r0001*.html")) == ["r0001-2.html", "r0001-3.html", "r0001.html"]
    s = summary(out)
    for q in s["queue"]:
        page, anchor = q["href"].split("#")
        strip = int(anchor[1:])
        assert strip == int(q["onset"] // 1) and f'id="{anchor}"' in (out / page).read_text()


def test_prepared_dataset_reference_is_its_test_split(song_train_dataset, demo, capsys, tmp_path):
    """--reference DATASET: the annotations of its test split only, read as vak prep recorded them."""
    import pandas as pd

    meta = json.loads((song_train_dataset / "metadata.json").read_text())
    df = pd.read_csv(song_train_dataset / meta["dataset_csv_filename"])
    test = [pathlib.Path(p) for p in df[df["split"] == "test"]["audio_path"]]
    other = [pathlib.Path(p) for p in df[df["split"] == "train"]["audio_path"]][:1]
    ann = tmp_path / "annotations"
    ann.mkdir()
    for audio in test + other:
        segments = read_simple_seq(audio.with_name(audio.name + ".csv"))
        write_prediction(ann, audio, perturb(*segments, "boundary"), {}, CLASSES, soundfile.info(str(audio)).duration)
    out = tmp_path / "report"
    report(capsys, ann, "--out", out, "--reference", song_train_dataset, "--queue", 2)
    s = summary(out)
    with_ref = {r["name"] for r in s["recordings"] if "scores" in r}
    assert with_ref == {a.name for a in test}
    for rec in s["recordings"]:
        if "scores" in rec:
            assert rec["diff_counts"]["prediction"]["boundary"] == 1
    assert f"({len(test)} of {len(test) + len(other)} recordings)" in (out / "index.html").read_text()


@pytest.mark.slow
def test_results_directory_raw_and_cleaned_on_the_test_split(real_bout_trained, capsys, tmp_path):
    """A `vak train` results directory: the model's test-split predictions, raw and cleaned, against
    the dataset's annotations; the predictions are annotate's (kept under --out/predictions)."""
    run = real_bout_trained("TCN")
    out = tmp_path / "report"
    report(capsys, run["run_dir"], "--out", out, "--queue", 3)
    s = summary(out)
    (rec,) = s["recordings"]
    assert list(rec["scores"]) == ["cleaned", "raw"]
    for version in ("cleaned", "raw"):
        pred = out / "predictions" / version / f"{rec['name']}.annot.csv"
        if len(pred.read_text().splitlines()) == 1:  # a 10-step model may label no segment (crowsetta refuses
            nothing = crowsetta.Sequence.from_keyword(
                labels=np.array([], dtype=str), onsets_s=np.array([]), offsets_s=np.array([])
            )
            hyp = crowsetta.Annotation(seq=nothing, annot_path=pred)  # a header-only file): scored as no segment
        else:
            hyp = crowsetta.Transcriber(format="generic-seq").from_file(pred).to_annot()
            hyp = hyp[0] if isinstance(hyp, list) else None
        ref = crowsetta.Transcriber(format="notmat").from_file(rec["reference_file"]).to_annot()
        if hyp is not None:
            expected = metrics.score_annotations(hyp, ref)
            assert rec["scores"][version]["fscore"] == pytest.approx(expected["fscore"])
    assert (out / "predictions" / "raw" / f"{rec['name']}.probabilities.npz").is_file()
    assert "cleaned" in (out / "r0001.html").read_text() and "raw" in (out / "r0001.html").read_text()


@pytest.mark.slow
def test_results_directory_loads_the_model_once_and_runs_its_network_once(
    real_bout_trained, capsys, tmp_path, monkeypatch
):
    """The report on a results directory loads its model once (one trained model, its checkpoint read
    once), runs the network once per recording (the raw pass), and derives the cleaned annotations from
    the raw labels, equal to what annotate writes with the same clean-up."""
    import pandas as pd

    from vak_tcn.inference.annotator import Annotator
    from vak_tcn.models.trained import TrainedModel
    from vak_tcn.plugins import vak_compat

    run = real_bout_trained("TCN")
    #: models loaded (config, labelmap, standardizer), networks built from the checkpoint, recordings run
    counts = {"models": 0, "networks built": 0, "recordings annotated": 0}
    for name in ("from_run", "from_predict_config"):
        loader = getattr(TrainedModel, name).__func__

        def load(cls, *args, _loader=loader, **kwargs):
            counts["models"] += 1
            return _loader(cls, *args, **kwargs)

        monkeypatch.setattr(TrainedModel, name, classmethod(load))
    build_without_vak, build_with_vak = TrainedModel._network_without_vak, vak_compat.load_model
    annotate_one = Annotator.annotate

    def built_without_vak(self, *args, **kwargs):
        counts["networks built"] += 1
        return build_without_vak(self, *args, **kwargs)

    def built_with_vak(*args, **kwargs):
        counts["networks built"] += 1
        return build_with_vak(*args, **kwargs)

    def annotate(self, *args, **kwargs):
        counts["recordings annotated"] += 1
        return annotate_one(self, *args, **kwargs)

    monkeypatch.setattr(TrainedModel, "_network_without_vak", built_without_vak)
    monkeypatch.setattr(vak_compat, "load_model", built_with_vak)
    monkeypatch.setattr(Annotator, "annotate", annotate)
    out = tmp_path / "report"
    report(capsys, run["run_dir"], "--out", out)
    recordings = summary(out)["recordings"]
    assert counts == {"models": 1, "networks built": 1, "recordings annotated": len(recordings)}
    # the cleaned annotations: the same as annotate's with the same clean-up (the predict config written)
    monkeypatch.undo()
    config = out / "predictions" / "predict.toml"
    audio = [pathlib.Path(rec["audio"]) for rec in recordings]
    proc = cli_in_process(capsys, "annotate", config, *audio, "--out", tmp_path / "annotate")
    assert proc.returncode == 0, proc.stderr
    for rec in recordings:
        name = f"{pathlib.Path(rec['audio']).name}.annot.csv"
        cleaned = pd.read_csv(out / "predictions" / "cleaned" / name)
        annotated = pd.read_csv(tmp_path / "annotate" / name)
        columns = ["label", "onset_s", "offset_s"]  # exactly: the same floats
        pd.testing.assert_frame_equal(cleaned[columns], annotated[columns], check_exact=True)


REPORT_AND_LIST_MODULES = """
import json, sys
from vak_tcn.cli import main
status = main(sys.argv[1:])
print("MODULES " + json.dumps({"status": status, "vak": sorted(m for m in sys.modules if m.split(".")[0] == "vak")}))
"""


@pytest.mark.slow
def test_results_directory_of_a_vak_tcn_network_is_reported_without_importing_vak(real_bout_trained, tmp_path):
    """A fresh process (the start-up hook on) reports on a TCN's results directory without importing vak (7-8 s
    of a report's 12 here): the training config, standardizer, spectrogram parameters and audio are read as
    vak wrote them, the network built as vak's factory builds it (the model's scores: the test above)."""
    import subprocess
    import sys

    from helpers.cli import vak_env

    run = real_bout_trained("TCN")
    argv = ["report", str(run["run_dir"]), "--out", str(tmp_path / "report")]
    proc = subprocess.run(
        [sys.executable, "-c", REPORT_AND_LIST_MODULES, *argv],
        capture_output=True,
        text=True,
        env=vak_env(),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES ")]
    assert json.loads(line.removeprefix("MODULES ")) == {"status": 0, "vak": []}


def test_mistakes_are_one_line_exit_2(demo, real_bout, capsys, tmp_path):
    cases = [
        ((tmp_path / "nope", "--out", tmp_path / "o"), "not found"),
        ((REAL_BOUT, "--out", tmp_path / "o"), "holds no annotation written by vak-tcn annotate"),
        ((demo["ann"], "--out", tmp_path / "o", "--reference", tmp_path / "missing"), "--reference not found"),
        ((demo["ann"], "--out", tmp_path / "o", "--tolerance", "-1"), "--tolerance"),
        ((demo["ann"], "--out", demo["ann"]), "is the folder the report reads"),
        ((demo["ann"], "--out", tmp_path / "o", "--reference", REAL_BOUT), "none of its 1 annotation(s)"),
    ]
    (tmp_path / "file").write_text("x")
    cases.append(((demo["ann"], "--out", tmp_path / "file"), "is a file"))
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(real_bout["ann"] / "bout_1.wav.annot.csv", moved)
    text = (moved / "bout_1.wav.annot.csv").read_text().replace(str(real_bout["audio"]), str(tmp_path / "gone"))
    (moved / "bout_1.wav.annot.csv").write_text(text)
    cases.append(((moved, "--out", tmp_path / "o"), "give the folder of the recordings with --audio"))
    for args, message in cases:
        proc = report(capsys, *args, expect=2)
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith("vak-tcn report: error:") and message in line, line
    # --audio finds what the annotation no longer names
    report(capsys, moved, "--out", tmp_path / "found", "--audio", real_bout["audio"], "--queue", 1)


# ---------------------------------------------------------------- a real browser
#: added to a copy of a page by the test (the report itself has no script): every image loads, eagerly
IMAGE_PROBE = """<script>
for (const img of document.images) img.loading = "eager";
window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute("src"));
  document.body.setAttribute("data-images", document.images.length + " " + broken.length);
  if (broken.length) console.error("broken images: " + broken.join(" "));
});
</script></body>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; skipped where it is absent, unless CI is set (.ci/run installs it): then a failure."""
    import os

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found, and CI is set: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    return path


def browse(chromium: str, page: pathlib.Path, tmp: pathlib.Path, *args: str):
    """Headless chromium on ``page``: ``(stdout, its console messages)`` (``--enable-logging`` prints each
    console message as a ``CONSOLE`` line on stderr)."""
    import subprocess

    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args, page.resolve().as_uri()]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]


def test_real_browser_opens_the_report_without_errors(real_bout, chromium, capsys, tmp_path):
    """index.html and a recording's page in headless chromium: no console message, every image loads
    (a probe script in a copy of the page), and the screenshot a user sees is not blank."""
    from PIL import Image

    out = tmp_path / "report"
    report(capsys, real_bout["ann"], "--out", out, "--reference", REAL_BOUT, "--queue", 8)
    for name in ("index.html", "r0001.html"):
        text = (out / name).read_text()
        assert "<script" not in text.lower(), "the report has no script: nothing can fail in a console"
        probe = out / f"_probe_{name}"
        probe.write_text(text.replace("</body>", IMAGE_PROBE))
        dom, console = browse(chromium, probe, tmp_path / "profile", "--dump-dom")
        n_images = len(re.findall(r"<img ", text))
        assert f'data-images="{n_images} 0"' in dom, (dom[-500:], console)
        assert not console, console
        probe.unlink()
        shot = tmp_path / f"{name}.png"
        _, console = browse(
            chromium, out / name, tmp_path / "profile", "--window-size=1400,1000", f"--screenshot={shot}"
        )
        assert not console, console
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
        assert pixels.shape == (1000, 1400) and pixels.std() > 20, f"{name}: blank screenshot (std {pixels.std():.1f})"
