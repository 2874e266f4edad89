"""The HTML report of a run (`--report`), read the way its readers read it.

- `explain --report` on held-out composites with the trained demo model, K = 2,
  and one broken input: Python's own HTML parser lists every <img>; each is a
  link relative to the page to a file Pillow decodes (6 originals, and a map
  and an overlay for each of 2 units of 6 inputs); every label and logit of the
  --json records, and the broken input's name and reason, are in the page's
  text; nothing refers to the network (no absolute URL, script or stylesheet).
- Headless Chromium (Debian's, installed by `make setup`) opens the page from
  disk and takes a screenshot; the same page with its pictures removed is the
  control. The pictures must show: the share of dark or coloured pixels (the
  inferno maps and overlays) in the screenshot must be large and many times the
  control's, where only text and broken-image icons are. The screenshot is kept
  in build/test-report/ to be looked at.
- A second run with --skip-existing: every input counts as skipped and the page
  still shows their maps, each named with its unit and label.
- `eval --report`: the scores of --json are in the page, and its sample of
  composites (and of misses) carries its pictures inside the page.
"""

import html
import json
import os
import pathlib
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, import_fashion

CHROMIUM = shutil.which("chromium")
# As /work/.library/env documents for this machine: without the networking
# flags Chromium keeps trying to reach Google's hosts, which are closed here.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
N = 6


class Page(HTMLParser):
    """The parts of a page the tests look at."""

    def __init__(self, text):
        super().__init__()
        self.imgs, self.hrefs, self.tags, self.text = [], [], set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "img":
            self.imgs.append(a["src"])
        if "href" in a:
            self.hrefs.append(a["href"])

    def handle_data(self, data):
        self.text.append(data)


def local_file(page, src):
    """The file a relative link of page names; fails for any other link."""
    parts = urlsplit(src)
    assert not parts.scheme and not parts.netloc and not parts.path.startswith("/"), src
    return (page.parent / unquote(parts.path)).resolve()


@pytest.fixture(scope="module")
def batch(cli, model_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    import_fashion().write_composites("test", 14, N, str(d / "in"))
    (d / "in" / "boxes.json").unlink()
    (d / "in" / "broken.png").write_bytes(b"this is not a PNG")
    page = d / "out" / "index.html"
    proc = cli.run("explain", "--model", model_path("fashion"), "--top-k", 2, "--json", "--colormap", "inferno",
                   "--out-dir", d / "out", "--report", page, d / "in")
    assert proc.returncode == 1, proc.stderr  # the broken input
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == N + 1
    return d, page, records


def test_report_links_text_and_no_network(batch):
    d, page, records = batch
    text = page.read_text()
    p = Page(text)
    assert len(p.imgs) == N + N * 2 * 2, p.imgs
    for src in p.imgs:
        with Image.open(local_file(page, src)) as img:
            img.load()
    originals = {local_file(page, s) for s in p.imgs} & {(d / "in" / f"{k:06d}.png").resolve() for k in range(N)}
    assert len(originals) == N
    words = " ".join(p.text)
    for r in records:
        if "error" in r:
            assert "broken.png" in words and r["error"] in words
            continue
        for label, logit in zip(r["labels"], r["logits"]):
            assert label in words
            assert f"{logit:.4g}" in words, (label, logit)
    assert not {"script", "link", "iframe", "object", "embed"} & p.tags
    for ref in p.imgs + p.hrefs:
        assert not urlsplit(ref).scheme and not ref.startswith("//"), ref
    for bad in ("http:", "https:", "@import", "url("):
        assert bad not in text


def screenshot(page, out):
    proc = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={out.parent / 'chromium-profile'}",
                           "--window-size=1400,1600", "--virtual-time-budget=10000", f"--screenshot={out}",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and out.is_file(), proc.stderr
    return np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)


def picture_share(rgb):
    """The share of pixels that are dark or strongly coloured: what maps and
    overlays are made of and a page of text on white is not."""
    dark = rgb.max(axis=2) < 80
    coloured = (rgb.max(axis=2) - rgb.min(axis=2)) > 60
    return float((dark | coloured).mean())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium missing: run `make setup`")
def test_report_pictures_show_in_chromium(batch, tmp_path):
    _, page, _ = batch
    keep = ROOT / "build" / "test-report"
    keep.mkdir(parents=True, exist_ok=True)
    shot = screenshot(page, keep / "report.png")
    control = tmp_path / "control" / "index.html"  # the same page, its pictures missing
    control.parent.mkdir()
    shutil.copy(page, control)
    bare = screenshot(control, tmp_path / "control.png")
    assert shot.shape == bare.shape == (1600, 1400, 3)
    share, base = picture_share(shot), picture_share(bare)
    print(f"\nreport screenshot {keep / 'report.png'}: pictures cover {share:.1%}, control {base:.1%}")
    assert share > 0.15 and share > 5 * base, (share, base)


def test_skip_existing_report_shows_existing_maps(batch, cli, model_path):
    d, _, first = batch
    page = d / "out" / "again.html"
    proc = cli.run("explain", "--model", model_path("fashion"), "--top-k", 2, "--colormap", "inferno",
                   "--out-dir", d / "out", "--skip-existing", "--report", page, d / "in")
    assert proc.returncode == 1, proc.stderr
    p = Page(page.read_text())
    words = " ".join(p.text)
    assert f"{N} skipped" in " ".join(words.split()), words[:400]
    assert len(p.imgs) == N + N * 2 * 2
    for src in p.imgs:
        assert local_file(page, src).is_file(), src
    for r in first:
        for unit, label in zip(r.get("units", []), r.get("labels", [])):
            assert f"unit {unit}" in words and label in words


def test_eval_report(cli, model_path, tmp_path):
    import_fashion().write_composites("test", 15, 30, str(tmp_path / "set"))
    page = tmp_path / "eval.html"
    proc = cli.run("eval", "--model", model_path("fashion"), "--json", "--report", page, tmp_path / "set")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    text = page.read_text()
    p = Page(text)
    words = " ".join(" ".join(p.text).split())
    for key in ("accuracy", "pointing_game", "energy_in_box", "uniform_baseline", "randomization_spearman"):
        assert f"{scores[key]:.3f}" in words, key
    # 30 composites: every second one shown (report.SampleEvery), then up to 8
    # more among those whose maximum missed the box; a composite and a map each.
    shown = words.count("maximum inside the box") + words.count("maximum outside the box")
    assert 15 <= shown <= 15 + 8
    assert len(p.imgs) == 2 * shown
    assert all(s.startswith("data:image/png;base64,") for s in p.imgs)
    assert "script" not in p.tags and not any(s.startswith(("http:", "https:", "//")) for s in p.hrefs)
