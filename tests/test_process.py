"""The real process under real signals, and several processes at once.

bin/saliency is started as a user's shell would start it, on a folder of 30
images with the fashion model (integrated gradients, 16 steps, so that a run
lasts some seconds and a signal can land while TensorFlow computes), and:

- SIGINT or SIGTERM at random moments (the seed is printed): right after the
  first result (TensorFlow computes the next batch), early (a random fraction
  of the time the first result took: model loading or the first batch), and
  after a random later result; each moment is defined by the run's own
  progress, so a faster or slower machine moves it without ending the run first:
  exit 128 + the signal, no hidden or temporary file anywhere, every PNG and
  .npy that exists decodes, stderr says how many inputs were done and that
  many have all their outputs, and `--skip-existing` then finishes the job
  with every output present and the finished ones skipped;
- a second SIGINT while a long batch computes (the second of two batches of 15
  images at 64 steps) stops at once, long before the batch could finish,
  still leaving only complete files;
- N processes with --shard i/N, started together into one --out-dir, cover
  every input exactly once and leave no temporary files.
"""

import json
import pathlib
import random
import re
import signal
import threading
import time

import numpy as np
import pytest
from PIL import Image

N_IMAGES = 30
# Steps of 4 images, about 1.4 s each here, 13 s in all with the model load.
SLOW = ("--method", "integrated", "--steps", "16", "--batch-size", "4")


@pytest.fixture(scope="module")
def fashion(model_path):
    return model_path("fashion")


@pytest.fixture(scope="module")
def photos(reference, tmp_path_factory):
    """30 PNGs of different sizes cut from the testdata photos."""
    folder = tmp_path_factory.mktemp("photos")
    rng = random.Random(30)
    sources = [reference.photo(n) for n in ("chelsea", "coffee", "astronaut", "rocket")]
    for i in range(N_IMAGES):
        src = sources[i % len(sources)]
        w, h = rng.randint(40, 160), rng.randint(40, 160)
        x, y = rng.randint(0, src.width - w), rng.randint(0, src.height - h)
        src.crop((x, y, x + w, y + h)).save(folder / f"img{i:02d}.png")
    return folder


def start(cli, model, *args):
    return cli.start("explain", "--model", model, *args, env={"TF_CPP_MIN_LOG_LEVEL": "2"})


def wait_lines(proc, n):
    """Blocks until the process has printed n --json records; returns them."""
    lines = ""
    for _ in range(n):
        line = proc.stdout.readline()
        assert line, f"{lines.count(chr(10))} results before exit {proc.wait()}: {proc.stderr.read()}"
        lines += line
    return lines


def finish(proc, timeout=300):
    """Reads the rest of stdout and stderr until the process exits; its exit
    code and both. Not proc.communicate(): that reads the pipes' descriptors
    directly and so drops what readline (wait_lines) has already buffered in
    proc.stdout, records the process did write (seen: 6 of 8 after SIGTERM)."""
    got = {}
    readers = [threading.Thread(target=lambda k=k, f=f: got.__setitem__(k, f.read()), daemon=True)
               for k, f in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    deadline = time.monotonic() + timeout
    for t in readers:
        t.join(max(deadline - time.monotonic(), 0))
    if any(t.is_alive() for t in readers):
        proc.kill()
        pytest.fail(f"the process did not exit within {timeout} s")
    proc.wait()
    return proc.returncode, got["out"], got["err"]


def hidden_or_temporary(*folders):
    return [p for f in folders for p in pathlib.Path(f).rglob("*")
            if p.name.startswith(".") or ".tmp" in p.name]


def complete_inputs(out_dir, photos):
    """Inputs whose map and .npy both exist; every file that exists must decode."""
    done = []
    for img in sorted(pathlib.Path(photos).glob("*.png")):
        stem = img.stem
        png = pathlib.Path(out_dir) / f"{stem}.saliency.integrated.png"
        npy = pathlib.Path(out_dir) / f"{stem}.saliency.integrated.npy"
        if png.exists():
            with Image.open(png) as im:
                im.load()
                assert im.size == Image.open(img).size, png
        if npy.exists():
            arr = np.load(npy)
            assert arr.dtype == np.float32 and arr.shape[0] == 1 and np.isfinite(arr).all(), npy
        if png.exists() and npy.exists():
            done.append(img)
    return done


def check_interrupted(code, sig, out, err, out_dir, photos):
    assert code == 128 + sig, f"exit {code}, want {128 + sig}:\n{err}"
    assert hidden_or_temporary(out_dir, photos) == []
    done = complete_inputs(out_dir, photos)
    m = re.search(r"interrupted: (\d+) of 30 inputs done; run again with --skip-existing", err)
    if m:
        said = int(m.group(1))
        assert len(out.splitlines()) == said, "one --json record per input done"
    else:
        assert "interrupted before any input was done" in err, err
        said = 0
    assert said == len(done), f"stderr says {said} done, {len(done)} have all their outputs:\n{err}"
    assert said < N_IMAGES
    return said


def resume(cli, model, out_dir, photos, said):
    proc = start(cli, model, *SLOW, "--raw", "--json", "--skip-existing", "--out-dir", out_dir, photos)
    code, out, err = finish(proc)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == N_IMAGES
    assert sum(r.get("skipped", False) for r in records) == said
    assert len(complete_inputs(out_dir, photos)) == N_IMAGES
    assert hidden_or_temporary(out_dir, photos) == []


SEED = random.randrange(1 << 16)


@pytest.mark.parametrize("sig,moments", [
    (signal.SIGINT, ["after-first", "early", "later"]),
    (signal.SIGTERM, ["after-first", "early"]),
])
def test_signal_then_resume(cli, fashion, photos, tmp_path, sig, moments):
    rng = random.Random(SEED + sig)
    print(f"\nseed {SEED}")
    first_took = None
    for k, moment in enumerate(moments):
        out_dir = tmp_path / f"out{k}"
        t0 = time.monotonic()
        proc = start(cli, fashion, *SLOW, "--raw", "--json", "--out-dir", out_dir, photos)
        printed = ""
        if moment == "after-first":
            # TensorFlow is computing the next batch now.
            printed = wait_lines(proc, 1)
            first_took = time.monotonic() - t0
            time.sleep(rng.uniform(0, 0.5))
        elif moment == "early":
            # Model loading or the first batch, never past it.
            time.sleep(rng.uniform(0.2, 1.0) * first_took)
        else:
            # After one of the 2nd to 6th results, within the run.
            printed = wait_lines(proc, rng.randint(2, 6))
            time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(sig)
        code, out, err = finish(proc)
        out = printed + out
        if code == 0:
            pytest.fail(f"the run ended before the signal ({moment}); make it longer")
        said = check_interrupted(code, sig, out, err, out_dir, photos)
        print(f"{signal.Signals(sig).name} {moment}: {said} of {N_IMAGES} done")
        resume(cli, fashion, out_dir, photos, said)


def test_second_sigint_stops_at_once(cli, fashion, photos, tmp_path):
    # Two batches of 15 images at 64 steps, each about 15 s of work here.
    proc = start(cli, fashion, "--method", "integrated", "--steps", "64", "--batch-size", "15",
                 "--raw", "--json", "--out-dir", tmp_path, photos)
    printed = wait_lines(proc, 15)  # the first batch is written and reported
    time.sleep(0.5)  # the engine has started the second
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None, "the first SIGINT must let the batch in flight finish"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=30)
    out = printed + out
    took = time.monotonic() - t0
    assert took < 2, f"second SIGINT took {took:.1f} s to stop the process"
    assert code == 130, err
    assert "stopping after the batch in flight" in err and "interrupted again: stopped at once" in err, err
    assert hidden_or_temporary(tmp_path, photos) == []
    assert len(complete_inputs(tmp_path, photos)) == len(out.splitlines())


@pytest.mark.parametrize("n", [3])
def test_shards_at_once_cover_every_input_once(cli, fashion, photos, tmp_path, n):
    procs = [start(cli, fashion, "--json", "--shard", f"{i}/{n}", "--out-dir", tmp_path, photos)
             for i in range(1, n + 1)]
    seen = []
    for p in procs:
        code, out, err = finish(p)
        assert code == 0, err
        seen += [json.loads(line)["image"] for line in out.splitlines()]
    want = sorted(str(p) for p in pathlib.Path(photos).glob("*.png"))
    assert sorted(seen) == want, "every input exactly once"
    maps = sorted(tmp_path.glob("*.saliency.png"))
    assert len(maps) == N_IMAGES
    assert hidden_or_temporary(tmp_path, photos) == []
