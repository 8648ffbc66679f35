"""The report's HTML: ``index.html`` and the recordings' pages, standard library only.

Plain HTML and CSS, no script, no external asset: the folder opens offline in any browser.
Numbers come in already computed (:mod:`.build`); this module only lays them out.
"""

from __future__ import annotations

import html
import os

__all__ = ["CSS", "escape", "fmt", "index_page", "recording_page", "relative"]

CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 16px 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 22px 0 6px; }
.meta { color: #555; font-size: 12px; } .meta code { font-size: 12px; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } td.name, th.name { text-align: left; }
.queue { display: flex; flex-wrap: wrap; gap: 8px; }
.queue a { display: block; width: 282px; border: 1px solid #ccc; padding: 2px; text-decoration: none; color: #222;
  font-size: 11px; background: #fff; }
.queue a:hover { border-color: #06c; } .queue img { display: block; }
.strip { margin: 6px 0 10px; } .strip img { display: block; max-width: 100%; height: auto; }
.strip .when { font-size: 11px; color: #555; } .strip:target { outline: 3px solid #00b8d4; }
.legend span { display: inline-block; margin-right: 10px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 3px;
  border: 1px solid #0003; }
nav { margin: 6px 0; font-size: 13px; } nav a, nav b { margin-right: 8px; }
.note { font-size: 12px; color: #555; max-width: 1100px; }
"""

SCORE_NAMES = {
    "frame_error": "frame error",
    "cer": "CER",
    "precision": "bnd P",
    "recall": "bnd R",
    "fscore": "bnd F",
    "edit": "edit %",
    "f1_50": "F1@50 %",
}


def fmt(value, digits: int = 3) -> str:
    """A number as the report prints it (``-`` for None)."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def escape(text) -> str:
    """``text`` for HTML (quotes too)."""
    return html.escape(str(text), quote=True)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _table(header: list[str], rows: list[list[str]], name_columns: int = 1) -> str:
    """Cells are HTML already (escape text before)."""
    head = "".join(f'<th class="name">{h}</th>' if k < name_columns else f"<th>{h}</th>" for k, h in enumerate(header))
    lines = [f"<table>\n<tr>{head}</tr>"]
    for row in rows:
        cells = "".join(
            f'<td class="name">{c}</td>' if k < name_columns else f"<td>{c}</td>" for k, c in enumerate(row)
        )
        lines.append(f"<tr>{cells}</tr>")
    return "\n".join(lines) + "\n</table>"


def _legend(colours: dict[str, str], diff_colours: dict[str, str] | None) -> str:
    items = [f'<span><i style="background:{c}"></i>{escape(label)}</span>' for label, c in colours.items()]
    if diff_colours:
        items.append("<span>&nbsp;differences:</span>")
        items += [f'<span><i style="background:{c}"></i>{escape(kind)}</span>' for kind, c in diff_colours.items()]
    return f'<div class="legend">{"".join(items)}</div>'


def _scores_table(scores: dict[str, dict], diff_counts: dict[str, dict]) -> str:
    """One row per version of the predictions."""
    header = ["predictions", *SCORE_NAMES.values(), "missed", "extra", "wrong label", "boundary"]
    rows = []
    for version, s in scores.items():
        d = diff_counts.get(version, {})
        rows.append(
            [escape(version), *(fmt(s.get(k)) for k in SCORE_NAMES)]
            + [fmt(d.get(k)) for k in ("missed", "extra", "wrong label", "boundary")]
        )
    return _table(header, rows)


def _counts_table(counts: dict[str, int], labels: list[str], reference: dict[str, int] | None) -> str:
    header = ["", *map(escape, labels), "all"]
    rows = [["predicted", *(fmt(counts.get(x, 0)) for x in labels), fmt(sum(counts.values()))]]
    if reference is not None:
        rows.append(["reference", *(fmt(reference.get(x, 0)) for x in labels), fmt(sum(reference.values()))])
    return _table(header, rows)


def _audio(path: str | None) -> str:
    return "not found (give its folder with --audio)" if path is None else f"<code>{escape(path)}</code>"


def recording_page(
    *,
    rec: dict,
    page: int,
    n_pages: int,
    strips: list[dict],
    labels: list[str],
    colours: dict[str, str],
    diff_colours: dict[str, str] | None,
    index_href: str,
    page_href,
) -> str:
    """One page of a recording: its numbers (every page) and its strips of this page."""
    nav = [f'<a href="{escape(index_href)}">&larr; index</a>']
    if n_pages > 1:
        for k in range(1, n_pages + 1):
            nav.append(f"<b>{k}</b>" if k == page else f'<a href="{escape(page_href(k))}">{k}</a>')
    body = [
        f"<h1>{escape(rec['name'])}</h1>",
        f"<nav>{''.join(nav)}</nav>",
        f'<div class="meta">audio {_audio(rec["audio"])}, annotation <code>{escape(rec["annotation"])}</code>'
        + (f", reference <code>{escape(rec['reference_file'])}</code>" if rec.get("reference_file") else "")
        + "</div>",
        f"<p>{fmt(rec['duration'], 1)} s of audio, {fmt(rec['song_time'], 1)} s of song in "
        f"{rec['n_segments']} segments{f' (page {page} of {n_pages})' if n_pages > 1 else ''}.</p>",
        _counts_table(rec["counts"], labels, rec.get("reference_counts")),
    ]
    if rec.get("scores"):
        body.append(_scores_table(rec["scores"], rec["diff_counts"]))
    body.append(_legend(colours, diff_colours))
    for strip in strips:
        body.append(
            f'<div class="strip" id="{strip["id"]}"><div class="when">{fmt(strip["start"], 1)}&ndash;'
            f'{fmt(strip["stop"], 1)} s</div><img src="{escape(strip["src"])}" width="{strip["width"]}" '
            f'height="{strip["height"]}" loading="lazy" alt="{escape(rec["name"])} {fmt(strip["start"], 1)} s"></div>'
        )
    if n_pages > 1:
        body.append(f"<nav>{''.join(nav)}</nav>")
    return _page(f"{rec['name']} - vak-tcn report", "\n".join(body))


def _confusion_table(names: list[str], counts) -> str:
    """Rows: reference label; columns: predicted label; cells: frames, shaded by the row's fraction."""
    header = ["reference \\ predicted", *map(escape, names), "frames"]
    rows = []
    for i, name in enumerate(names):
        total = int(counts[i].sum())
        cells = [escape(name)]
        for j in range(len(names)):
            frac = counts[i, j] / total if total else 0.0
            colour = (
                f"rgba(0, 110, 200, {0.85 * frac:.2f})" if i == j else f"rgba(214, 39, 40, {min(1.0, 2 * frac):.2f})"
            )
            text = fmt(int(counts[i, j])) if counts[i, j] else ""
            cells.append(f'<span style="display:block;background:{colour}" title="{frac:.3f}">{text}&nbsp;</span>')
        cells.append(fmt(total))
        rows.append(cells)
    return _table(header, rows)


def index_page(
    *,
    title: str,
    meta: list[str],
    summary: str,
    recordings: list[dict],
    labels: list[str],
    queue: list[dict],
    queue_rule: str,
    mean_scores: dict | None,
    label_rows: list[dict] | None,
    confusion: tuple[list[str], object] | None,
    colours: dict[str, str],
    diff_colours: dict[str, str] | None,
    notes: list[str],
) -> str:
    body = [f"<h1>{escape(title)}</h1>", *(f'<div class="meta">{m}</div>' for m in meta), f"<p>{summary}</p>"]
    body.append(_legend(colours, diff_colours))
    if mean_scores:
        body.append("<h2>Scores (mean per file)</h2>")
        body.append(_scores_table(mean_scores["scores"], mean_scores["diff_counts"]))
    body.append(f"<h2>Review queue: the {len(queue)} least certain segments</h2>")
    body.append(f'<p class="note">{queue_rule}</p>')
    items = []
    for k, q in enumerate(queue, 1):
        items.append(
            f'<a href="{escape(q["href"])}" id="q{k}"><img src="{escape(q["src"])}" width="{q["width"]}" '
            f'height="{q["height"]}" loading="lazy" alt="segment {k}">#{k} {escape(q["recording"])} '
            f"{fmt(q['onset'], 2)} s, <b>{escape(q['label'])}</b>, certainty {fmt(q['certainty'])} ({escape(q['reason'])})</a>"
        )
    body.append(f'<div class="queue">{"".join(items)}</div>')
    with_ref = any(r.get("scores") for r in recordings)
    body.append("<h2>Recordings" + (", worst first (CER, then frame error)" if with_ref else "") + "</h2>")
    header = ["recording", "audio (s)", "song (s)", "segments", *map(escape, labels)]
    first = next((next(iter(r["scores"])) for r in recordings if r.get("scores")), None)
    if with_ref:
        header += [f"{SCORE_NAMES[k]}" for k in ("frame_error", "cer", "precision", "recall", "fscore")]
        header += ["missed", "extra", "wrong label", "boundary"]
    rows = []
    for r in recordings:
        row = [
            f'<a href="{escape(r["href"])}">{escape(r["name"])}</a>',
            fmt(r["duration"], 1),
            fmt(r["song_time"], 1),
            fmt(r["n_segments"]),
            *(fmt(r["counts"].get(x, 0)) for x in labels),
        ]
        if with_ref:
            s = (r.get("scores") or {}).get(first, {})
            d = (r.get("diff_counts") or {}).get(first, {})
            row += [fmt(s.get(k)) for k in ("frame_error", "cer", "precision", "recall", "fscore")]
            row += [fmt(d.get(k)) for k in ("missed", "extra", "wrong label", "boundary")]
        rows.append(row)
    body.append(_table(header, rows))
    if with_ref:
        body.append(f'<p class="note">Scores and differences of the {escape(first)} predictions.</p>')
    if label_rows:
        body.append("<h2>Labels</h2>")
        header = ["label", "reference", "predicted", "frame error", "bnd P", "bnd R", "bnd F"]
        body.append(
            _table(header, [[escape(r["label"]), fmt(r["n_reference"]), fmt(r["n_predicted"]), fmt(r["frame_error"]),
                             fmt(r["precision"]), fmt(r["recall"]), fmt(r["fscore"])] for r in label_rows])
        )  # fmt: skip
    if confusion is not None:
        body.append("<h2>Confusion of labels (frames)</h2>")
        body.append(_confusion_table(*confusion))
    body += [f'<p class="note">{n}</p>' for n in notes]
    return _page(title, "\n".join(body))


def relative(path, start) -> str:
    """A link from a page in ``start`` to ``path`` (forward slashes, as URLs want)."""
    return os.path.relpath(path, start).replace(os.sep, "/")
