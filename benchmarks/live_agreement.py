"""Frame-label agreement of live annotation (causal normalisation) with offline annotation.

    python benchmarks/live_agreement.py PREDICT_CONFIG AUDIO [AUDIO ...] [--block SAMPLES]

For each recording: the frame labels of the same causal model (a) offline, on vak's whole-file
spectrogram (``log_spect`` divided by the file's maximum power), and (b) live, through
:class:`vak_tcn.live.Stream` with the running maximum, with the level recorded when training ended
(the default, when the checkpoint has ``reference_power.json``) and with the file's own maximum as
reference power (which must agree 100 %).  Prints the agreement per file and overall.
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import soundfile
import torch


def offline_labels(config: pathlib.Path, samples: np.ndarray, rate: int) -> np.ndarray:
    from vak_tcn.inference.annotate import Annotator
    from vak_tcn.plugins import vak_compat

    annotator = Annotator(config)
    spect, _, _ = vak_compat.spectrogram(samples, rate, annotator.spect_params)
    if annotator.net is None:
        annotator._load_network(spect.shape[0])
    frames = annotator.standardizer(spect) if annotator.standardizer is not None else spect
    with torch.inference_mode():
        return annotator.net(torch.from_numpy(frames).float()[None, None])[0].argmax(0).numpy()


def live_labels(
    config: pathlib.Path, samples: np.ndarray, rate: int, block: int, reference: float | None, recorded: bool = False
) -> np.ndarray:
    from vak_tcn.live import Stream

    stream = Stream.from_config(
        config, rate, reference_power=reference, record_labels=True, recorded_reference=recorded
    )
    for start in range(0, len(samples), block):
        stream.push(samples[start : start + block])
    stream.finish()
    return np.array(stream.frame_labels)


def main() -> None:
    from vak_tcn.inference.annotate import Annotator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=pathlib.Path)
    parser.add_argument("audio", type=pathlib.Path, nargs="+")
    parser.add_argument("--block", type=int, default=1024, help="samples per push (default 1024)")
    args = parser.parse_args()
    from vak_tcn.live.stream import reference_power_of

    recorded = Annotator(args.config).model.reference is not None
    totals = {"running": [0, 0], **({"recorded": [0, 0]} if recorded else {}), "file": [0, 0]}
    for path in args.audio:
        samples, rate = soundfile.read(path, dtype="float64")
        samples = samples if samples.ndim == 1 else samples[:, 0]
        offline = offline_labels(args.config, samples, rate)
        peak = reference_power_of(path, Annotator(args.config).spect_params)
        row = []
        for name in totals:
            reference = peak if name == "file" else None
            live = live_labels(args.config, samples, rate, args.block, reference, recorded=name == "recorded")
            same = int((live == offline).sum())
            totals[name][0] += same
            totals[name][1] += len(offline)
            row.append(f"{name} maximum {100 * same / len(offline):.2f} %")
        print(f"{path.name}: {len(offline)} frames; agreement with offline: " + ", ".join(row))
    for name, (same, total) in totals.items():
        print(f"overall, {name} maximum: {100 * same / total:.3f} % of {total} frames")


if __name__ == "__main__":
    main()
