"""Runs the side-by-side benchmark of issue 5 and prints its table (bench/run.sh sets
it up and calls this; see bench/README.md).

Every figure is one fresh process doing the whole job (start, load the model, read
the images, compute, write one PNG per image and unit), timed from the parent:
wall time by time.monotonic around the process, peak resident memory from
os.wait4's rusage of that process. Runners are interleaved (their order rotates
from one repetition to the next) so that drift in the machine's load spreads over
all of them; each figure is the median of --runs repetitions.

This script imports no TensorFlow itself: it only starts, watches and compares.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Work per image, in GFLOP (one multiply-add = 2 FLOP). Xception: about 8.4 G
# multiply-adds per 299x299 forward pass; the input gradient about as much again.
FORWARD_GFLOP = 16.8
GRADIENT_GFLOP = 33.6  # one forward + one backward pass per explained unit


SHARED_UNITS = 5  # the exported model's shared_forward signature (saliency.json)


def gflop_per_image(k, kind="python", forward=FORWARD_GFLOP):
    """The work a runner does per image at K units.

    Python peers: the top-K forward pass, then a forward and backward pass per
    unit. The Go CLI at K = 1 uses the model's top1 signature, which picks the
    unit and takes its gradient from one forward pass: one forward and one
    backward pass. At K = 4 and 5 the shared SavedModel's top5 signature picks
    the five best units and explains them from one forward pass (six passes).
    Above 5 it takes the top-K forward pass, then sends groups of five units
    through the shared signature (one forward pass, five backward passes; a
    group of four is padded to five) and the last one to three units as before
    (engine.fusedTop, method/sweep.go)."""
    gradient = 2 * forward  # one forward and one backward pass
    if kind != "go":
        return forward + k * gradient
    if k == 1:
        return gradient
    if k in (SHARED_UNITS - 1, SHARED_UNITS):
        return (1 + SHARED_UNITS) * forward
    groups, rest = divmod(k, SHARED_UNITS) if k >= 4 else (0, k)
    if rest == SHARED_UNITS - 1:
        groups, rest = groups + 1, 0
    shared = (1 + SHARED_UNITS) * forward
    return forward + groups * shared + rest * gradient


def go_compute_stage(log, k):
    """The compute stage of a Go run, from its --profile lines on stderr:
    {"compute_s", "rows", "steady_s", "steady_rows"}, where steady leaves out
    the first batch (TensorFlow's one-time graph optimisation); None when the
    log has no profile."""
    try:
        with open(log, errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    head = re.search(r"profile of \d+ inputs?, (\d+) image-units? explained", text)
    compute = re.search(r"^saliency:\s+compute\s+([\d.]+) s", text, re.M)
    first = re.search(r"^saliency:\s+first batch\s+([\d.]+) s\s+(\d+) image-unit", text, re.M)
    if not (head and compute and first):
        return None
    rows, first_rows = int(head.group(1)), int(first.group(2))
    compute_s = float(compute.group(1))
    return {"compute_s": compute_s, "rows": rows,
            "steady_s": compute_s - float(first.group(1)), "steady_rows": rows - first_rows}


# ---------------------------------------------------------------- runners


class Runner:
    def __init__(self, name, label, kind, argv, env=None):
        self.name, self.label, self.kind = name, label, kind
        self.argv = argv  # function (images, k, outdir) -> argv list
        self.env = env or {}


def keras_of(a, name):
    """Which Keras a Python peer runs on: 2 (tf-keras, TF_USE_LEGACY_KERAS=1, the .h5
    model) for the names in --keras2, else 3 (TensorFlow 2.21's own, the .keras model)."""
    return 2 if name in a.keras2 else 3


def py_env(a, name, **extra):
    legacy = keras_of(a, name) == 2
    return {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": "",
            "TF_USE_LEGACY_KERAS": "1" if legacy else "0", **extra}


def model_of(a, name):
    return a.tf_keras_model if keras_of(a, name) == 2 else a.keras_model


def keras_label(a, name):
    return " [tf-keras]" if keras_of(a, name) == 2 else " [Keras 3]"


def make_runners(a):
    runners = []
    py = sys.executable

    def py_argv(script, name, extra=()):
        model = model_of(a, name)
        return lambda images, k, out: [py, os.path.join(HERE, script), *extra,
                                       "--model", model, "--top-k", str(k),
                                       "--batch-size", str(a.py_batch), "--out", out, *images]

    for peer in a.peers:
        if peer == "go":
            batches = a.go_batch or [None]
            for b in batches:
                extra = [] if b is None else ["-b", str(b)]
                name = "go" if b is None or len(batches) == 1 else f"go-b{b}"
                label = "Go CLI" + ("" if b is None else f" -b {b}")
                runners.append(Runner(
                    name, label, "go",
                    lambda images, k, out, extra=extra: [
                        a.go_bin, "explain", "-q", "--profile", "--model", a.saved_model, "--top-k", str(k),
                        "-o", out, *extra, *images]))
        elif peer == "ke":
            runners.append(Runner("ke", "keras-explainable ke.gradients" + keras_label(a, peer),
                                  "python", py_argv("peer_ke.py", peer, ["--impl", "ke"]),
                                  py_env(a, peer, PYTHONPATH=a.ke_src or "")))
        elif peer == "tfkv":
            runners.append(Runner("tfkv", "tf-keras-vis Saliency" + keras_label(a, peer),
                                  "python", py_argv("peer_tfkv.py", peer), py_env(a, peer)))
        elif peer == "pair":
            runners.append(Runner("pair", "PAIR saliency GradientSaliency" + keras_label(a, peer),
                                  "python", py_argv("peer_pair.py", peer), py_env(a, peer)))
        else:
            sys.exit(f"bench.py: unknown peer {peer!r} (want go, ke, tfkv, pair)")
    return runners


def use_faithful(runner, a, why):
    runner.label = "ke_faithful.py (batch_jacobian, ke semantics)" + keras_label(a, "ke")
    runner.argv = (lambda images, k, out: [
        sys.executable, os.path.join(HERE, "peer_ke.py"), "--impl", "faithful",
        "--model", model_of(a, "ke"), "--top-k", str(k), "--batch-size", str(a.py_batch),
        "--out", out, *images])
    runner.env = py_env(a, "ke")
    runner.faithful_reason = why


# ---------------------------------------------------------------- running


def pngs(folder):
    try:
        return sorted(e.name for e in os.scandir(folder)
                      if e.name.endswith(".png") and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def run_once(runner, images, k, out, log, timeout, watch_first_png=False):
    """Runs one job; returns a dict of wall_s, first_png_s, maxrss_mb, rc, pngs."""
    subprocess.run(["rm", "-rf", out], check=True)
    os.makedirs(out)
    env = dict(os.environ)
    env.update(runner.env)
    argv = runner.argv(images, k, out)
    with open(log, "w") as err:
        start = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env,
                             start_new_session=True)
        first_png = None
        status = rusage = None
        while True:
            pid, status, rusage = os.wait4(p.pid, os.WNOHANG)
            now = time.monotonic()
            if pid:
                break
            if watch_first_png and first_png is None and pngs(out):
                first_png = now - start
            if now - start > timeout:
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, rusage = os.wait4(p.pid, 0)
                break
            time.sleep(0.005 if watch_first_png else 0.05)
        wall = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
    files = pngs(out)
    if watch_first_png and first_png is None and files:
        first_png = wall
    return {"wall_s": wall, "first_png_s": first_png, "maxrss_mb": rusage.ru_maxrss / 1024.0,
            "rc": p.returncode, "pngs": len(files)}


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ---------------------------------------------------------------- agreement check


def read_png(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path), dtype="float64")


def map_key(name):
    """(stem, unit or None) from STEM.saliency[.TAG][.UNIT].png."""
    stem, _, rest = name[:-4].partition(".saliency")
    parts = [p for p in rest.split(".") if p]
    unit = int(parts[-1]) if parts and parts[-1].isdigit() else None
    return stem, unit


def agreement(folders, reference="go"):
    """Pearson correlation of each runner's PNGs with the reference's, per map."""
    import numpy as np

    ref = {map_key(n): os.path.join(folders[reference], n) for n in pngs(folders[reference])}
    result = {}
    for name, folder in folders.items():
        if name == reference:
            continue
        got = {map_key(n): os.path.join(folder, n) for n in pngs(folder)}
        rows = []
        for key in sorted(set(ref) | set(got), key=str):
            if key not in ref or key not in got:
                rows.append({"image": key[0], "unit": key[1], "error":
                             f"only in {'reference' if key in ref else name} (top-K units differ?)"})
                continue
            a, b = read_png(ref[key]), read_png(got[key])
            if a.shape != b.shape:
                rows.append({"image": key[0], "unit": key[1], "error": f"shape {b.shape} vs {a.shape}"})
                continue
            r = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
            rows.append({"image": key[0], "unit": key[1], "pearson": round(r, 5),
                         "max_abs_diff_levels": int(np.abs(a - b).max()),
                         "mean_abs_diff_levels": round(float(np.abs(a - b).mean()), 3)})
        result[name] = rows
    return result


# ---------------------------------------------------------------- the machine


def machine():
    info = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        fields = dict(re.findall(r"^([^:\n]+):\s*(.*)$", out, re.M))
    except OSError:
        fields = {}
    info["cpu_model"] = fields.get("Model name", platform.processor())
    info["vendor"] = fields.get("Vendor ID", "")
    info["cpu_family"] = fields.get("CPU family", "")
    info["cores"] = os.cpu_count()
    flags = set(fields.get("Flags", "").split())
    mhz = None
    for key in ("CPU max MHz", "CPU MHz"):
        if fields.get(key):
            mhz = float(fields[key])
            break
    if mhz is None:
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", f.read(), re.M)
                mhz = float(m.group(1)) if m else None
        except OSError:
            pass
    info["ghz"] = round(mhz / 1000.0, 3) if mhz else None
    if "avx512f" in flags:
        fpc, why = 64, "avx512f: two 512-bit FMA pipes, 2 x 16 lanes x 2 FLOP"
    elif "fma" in flags and "avx2" in flags:
        fpc, why = 32, "fma+avx2: two 256-bit FMA pipes, 2 x 8 lanes x 2 FLOP"
    elif "avx" in flags:
        fpc, why = 16, "avx without fma: 8-lane add + 8-lane multiply"
    else:
        fpc, why = 8, "sse: 4-lane add + 4-lane multiply"
    info["flop_per_cycle_per_core"] = fpc
    info["peak_assumption"] = f"single-precision, {fpc} FLOP/cycle/core ({why}), at the {'max' if fields.get('CPU max MHz') else 'nominal'} clock"
    info["peak_gflops"] = round(info["cores"] * info["ghz"] * fpc, 1) if info["ghz"] else None
    if info["vendor"] == "AuthenticAMD" and info["cpu_family"] == "25" and fpc == 64:
        # Family 25 with avx512f is Zen 4 (Zen 3, also family 25, has no avx512f and
        # gets the fma+avx2 rule above). Zen 4 decodes a 512-bit FMA into two 256-bit
        # halves: 32 FLOP/cycle/core.
        info["peak_gflops_zen4"] = round(info["cores"] * info["ghz"] * 32, 1)
        info["peak_note"] = ("AMD family 25 (Zen 4) runs 512-bit FMAs as two 256-bit halves, "
                             "so its real single-precision peak is 32 FLOP/cycle/core, half of "
                             "the avx512f rule")
    try:
        with open("/proc/meminfo") as f:
            m = re.search(r"MemTotal:\s*(\d+)", f.read())
            info["memory_gb"] = round(int(m.group(1)) / 2**20, 1)
    except OSError:
        pass
    return info


def measured_peak():
    """bench/peak.py in a process of its own (it imports TensorFlow, this script
    does not): the float32 GEMM rate of OpenBLAS and of TensorFlow's MatMul."""
    got = subprocess.run([sys.executable, os.path.join(HERE, "peak.py")], capture_output=True, text=True)
    try:
        return json.loads(got.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        print(f"bench: peak.py failed: {got.stderr[-500:]}", file=sys.stderr)
        return {}


def versions(a):
    from importlib import metadata

    v = {}
    for dist in ("tensorflow-cpu", "keras", "tf-keras", "numpy", "pillow", "tf-keras-vis",
                 "saliency", "scipy", "scikit-image"):
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v[dist] = None
    v["keras-explainable"] = a.ke_version or None
    try:
        v["saliency-cli"] = subprocess.run([a.go_bin, "--version"], capture_output=True,
                                           text=True).stdout.strip()
        v["go"] = subprocess.run(["go", "version", a.go_bin], capture_output=True,
                                 text=True).stdout.strip().split(": ")[-1]
    except OSError:
        pass
    return v


# ---------------------------------------------------------------- report


def median(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    if len(xs) < 2:
        return None
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else None


def fmt(x, f="{:.2f}", none="-"):
    return none if x is None else f.format(x)


def print_table(res):
    m = res["machine"]
    print()
    print(f"saliency benchmark, {res['date']}: {m['cpu_model']}, {m['cores']} cores, "
          f"{fmt(m['ghz'])} GHz, {m.get('memory_gb')} GB; load average at start "
          f"{res['load_average_start']}")
    print(f"model: {res['model']}; {res['images']} images of mixed sizes; median of "
          f"{res['runs']} runs; Python peers in batches of {res['py_batch']}")
    if res.get("keras_of_runner"):
        print("Keras of the Python peers: " + "; ".join(
            f"{n}: {k}" for n, k in res["keras_of_runner"].items()))
    peak = m.get("peak_gflops")
    print(f"peak: {m['cores']} cores x {fmt(m['ghz'])} GHz x {m['flop_per_cycle_per_core']} "
          f"FLOP/cycle = {fmt(peak, '{:.0f}')} GFLOP/s ({m['peak_assumption']})")
    if m.get("peak_note"):
        print(f"      {m['peak_note']}: {m['peak_gflops_zen4']:.0f} GFLOP/s")
    if m.get("sgemm_gflops"):
        print(f"measured: a 4096x4096 float32 GEMM runs at {m['sgemm_gflops']:.0f} GFLOP/s in NumPy "
              f"(OpenBLAS), {m['tf_matmul_gflops']:.0f} GFLOP/s as a TensorFlow MatMul (bench/peak.py)")
    print(f"work: {FORWARD_GFLOP} GFLOP (top-K forward) + K x {GRADIENT_GFLOP} GFLOP "
          f"(forward + backward per unit) per image; the Go CLI at K=1 does {GRADIENT_GFLOP} "
          f"(one fused forward + backward, the top1 signature), at K=5 "
          f"{gflop_per_image(5, 'go'):.1f} (the top5 signature: one forward, 5 backward)")
    print()
    head = ("runner", "K", "images/s", "spread", "Go/peer", "GFLOP/s", "% peak",
            "compute GFLOP/s", "% SGEMM", "latency s", "peak RSS MB")
    rows = [head]
    for r in res["throughput"]:
        lat = res["latency"].get(r["runner"]) if r["k"] == 1 else None
        rows.append((r["label"], str(r["k"]), fmt(r["images_per_s"], "{:.3f}"),
                     fmt(r["spread"], "{:.0%}"),
                     fmt(r["go_speedup"], "{:.2f}x"), fmt(r["gflops"], "{:.1f}"),
                     fmt(r["percent_of_peak"], "{:.0f}%"),
                     fmt(r.get("compute_stage_gflops"), "{:.1f}"),
                     fmt(r.get("compute_stage_percent_of_sgemm"), "{:.0f}%"),
                     fmt(lat and lat["first_png_s"], "{:.2f}"),
                     fmt(r["maxrss_mb"], "{:.0f}")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print("images/s: whole process (start, model load, decode, compute, PNGs) over the image "
          "count; Go/peer: Go CLI's images/s over the peer's (same K, same run);")
    print("latency: one image, K=1, process start to its PNG on disk; peak RSS: of the "
          "throughput run.")
    print("compute GFLOP/s: the Go CLI's TensorFlow calls alone (its --profile), after the first "
          "batch (graph optimisation); % SGEMM: that over the measured GEMM rate.")
    if res["latency"]:
        print()
        print("single-image latency (K=1, one image, median):")
        for name, lat in res["latency"].items():
            print(f"  {lat['label']:<48} to PNG {fmt(lat['first_png_s'])} s, process "
                  f"{fmt(lat['wall_s'])} s, peak RSS {fmt(lat['maxrss_mb'], '{:.0f}')} MB")
        if res.get("latency_ratio") is not None:
            print(f"  Go CLI / fastest Python ({res['latency_fastest_python']}): "
                  f"{res['latency_ratio']:.2f}")
    if res.get("notes"):
        print()
        for n in res["notes"]:
            print(f"note: {n}")
    if res.get("agreement"):
        print()
        print("agreement with the Go CLI's PNGs (Pearson r per map; the 299x299 PNG needs no "
              "resize on the way in):")
        for name, rows in res["agreement"].items():
            parts = [f"{r['image']}/{r['unit']}: " + (f"r={r['pearson']:.4f}" if "pearson" in r
                                                       else r["error"]) for r in rows]
            print(f"  {name}: " + "; ".join(parts))
    print()
    print(f"results: {res['results_path']}")


# ---------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images-dir", required=True)
    p.add_argument("--check-image", help="299x299 PNG for the agreement check")
    p.add_argument("--keras-model", required=True, help="the Keras 3 model (.keras)")
    p.add_argument("--tf-keras-model", required=True, help="the tf-keras (Keras 2) model (.h5)")
    p.add_argument("--keras2", default="ke tfkv",
                   help="Python peers that run on tf-keras (Keras 2); the others on Keras 3")
    p.add_argument("--saved-model", required=True)
    p.add_argument("--go-bin", required=True)
    p.add_argument("--ke-src", help="keras-explainable's src/ folder; empty: ke_faithful.py")
    p.add_argument("--ke-version", default="", help="where keras-explainable came from")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--k", default="1 5")
    p.add_argument("--peers", default="go ke tfkv pair")
    p.add_argument("--go-batch", default="", help="Go -b values, e.g. '8 16'; empty: CLI default")
    p.add_argument("--py-batch", type=int, default=8)
    p.add_argument("--latency", default="all", help="'all', 'none', or runner names")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--work", required=True, help="folder for outputs, logs and results.json")
    p.add_argument("--no-check", action="store_true")
    a = p.parse_args()
    a.peers = a.peers.replace(",", " ").split()
    a.keras2 = a.keras2.replace(",", " ").split()
    a.go_batch = [int(b) for b in a.go_batch.replace(",", " ").split()]
    ks = [int(k) for k in a.k.replace(",", " ").split()]
    images = sorted(glob.glob(os.path.join(a.images_dir, "*.jpg")))
    if not images:
        sys.exit(f"bench.py: no images in {a.images_dir}")
    runners = make_runners(a)
    if not runners:
        sys.exit("bench.py: no runners (BENCH_PEERS)")
    notes = []
    ke = next((r for r in runners if r.name == "ke"), None)
    if ke and not a.ke_src:
        use_faithful(ke, a, "keras-explainable's source is absent")
        notes.append("keras-explainable's source was not found ($KE_SRC or the fetched "
                     "mirror): its row is bench/ke_faithful.py, a script of its semantics")
    os.makedirs(os.path.join(a.work, "logs"), exist_ok=True)
    out_root = os.path.join(a.work, "out")
    log_of = lambda what: os.path.join(a.work, "logs", what + ".log")  # noqa: E731

    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {**machine(), **measured_peak()}, "versions": versions(a),
           "load_average_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
           "model": f"Xception, random weights (seed 1312), {a.saved_model} for Go and its "
                    f"Keras rebuild for Python; timings only, the maps show no object",
           "images": len(images), "runs": a.runs, "k": ks, "py_batch": a.py_batch,
           "go_batch": a.go_batch or "CLI default",
           "gflop_per_image": {str(k): gflop_per_image(k) for k in ks},
           "gflop_per_image_go": {str(k): gflop_per_image(k, "go") for k in ks},
           "keras_of_runner": {r.name: ("tf-keras (Keras 2), " + os.path.basename(a.tf_keras_model)
                                        if keras_of(a, r.name) == 2 else
                                        "Keras 3, " + os.path.basename(a.keras_model))
                               for r in runners if r.kind == "python"}}

    # 1. Agreement check: every runner on the 299x299 PNG and the first image, K=2.
    #    It also warms the page cache, and finds a keras-explainable that cannot run.
    if not a.no_check:
        check_images = ([a.check_image] if a.check_image and os.path.exists(a.check_image)
                        else []) + images[:1]
        folders = {}
        for r in list(runners):
            out = os.path.join(out_root, f"check-{r.name}")
            got = run_once(r, check_images, 2, out, log_of(f"check-{r.name}"), a.timeout)
            if got["rc"] != 0 and r is ke and not hasattr(r, "faithful_reason"):
                why = tail(log_of(f"check-{r.name}"), 5)
                use_faithful(r, a, why)
                notes.append("keras-explainable failed on this TensorFlow; its row is "
                             "bench/ke_faithful.py. Its error: " + why.strip().splitlines()[-1])
                got = run_once(r, check_images, 2, out, log_of(f"check-{r.name}"), a.timeout)
            if got["rc"] != 0 or got["pngs"] != 2 * len(check_images):
                notes.append(f"{r.label} failed the check run (exit {got['rc']}, "
                             f"{got['pngs']} PNGs), left out: "
                             + tail(log_of(f"check-{r.name}"), 3).strip().replace("\n", " | "))
                runners.remove(r)
                continue
            folders[r.name] = out
            print(f"check: {r.label}: ok in {got['wall_s']:.1f}s", file=sys.stderr)
        go_names = [r.name for r in runners if r.kind == "go"]
        if go_names:
            res["agreement"] = agreement({n: f for n, f in folders.items()
                                          if n == go_names[0] or not n.startswith("go")},
                                         reference=go_names[0])
            if ke and "ke" in folders:
                log = tail(log_of("check-ke"), 200)
                m = re.search(r"^pfor while_loop fallback: (.*)$", log, re.M)
                res["ke_pfor_fallback"] = m.group(1) if m else None
                if m and m.group(1) != "none":
                    notes.append("GradientTape.batch_jacobian (pfor) fell back to a "
                                 "sequential while_loop for: " + m.group(1))
    if ke in runners:
        res["ke_impl"] = "faithful" if hasattr(ke, "faithful_reason") else "keras-explainable"
        if ke.kind == "python" and res["ke_impl"] == "keras-explainable":
            notes.append("keras-explainable ran from its own source, unmodified, on tf-keras "
                         "(Keras 2); ke_compat.py answers its keras / keras.engine.* imports "
                         "with tf_keras / tf_keras.src.* at run time")

    # 2. Throughput: all images, each K, runners interleaved, --runs repetitions.
    samples = {}
    for k in ks:
        for run in range(a.runs):
            order = runners[run % len(runners):] + runners[:run % len(runners)]
            for r in order:
                tag = f"{r.name}-k{k}-r{run}"
                got = run_once(r, images, k, os.path.join(out_root, f"{r.name}-k{k}"),
                               log_of(tag), a.timeout)
                ok = got["rc"] == 0 and got["pngs"] == k * len(images)
                print(f"run {run + 1}/{a.runs} K={k} {r.label}: {got['wall_s']:.1f}s, "
                      f"{got['maxrss_mb']:.0f} MB" + ("" if ok else
                                                      f"  FAILED (exit {got['rc']}, "
                                                      f"{got['pngs']} PNGs), see {log_of(tag)}"),
                      file=sys.stderr)
                got["ok"] = ok
                if r.kind == "go":
                    got["stage"] = go_compute_stage(log_of(tag), k)
                samples.setdefault((r.name, k), []).append(got)

    peak = res["machine"].get("peak_gflops")
    sgemm = res["machine"].get("sgemm_gflops")
    rows = []
    for k in ks:
        for r in runners:
            ss = [s for s in samples.get((r.name, k), []) if s["ok"]]
            walls = [s["wall_s"] for s in ss]
            ips = len(images) / median(walls) if walls else None
            gflops = ips * gflop_per_image(k, r.kind) if ips else None
            stage_gflops = median([s["stage"]["steady_rows"] / k * gflop_per_image(k, r.kind) / s["stage"]["steady_s"]
                                   for s in ss if s.get("stage") and s["stage"]["steady_s"] > 0])
            rows.append({"runner": r.name, "label": r.label, "k": k,
                         "images_per_s": ips, "wall_s_median": median(walls),
                         "wall_s_all": [round(w, 3) for w in walls], "spread": spread(walls),
                         "maxrss_mb": median([s["maxrss_mb"] for s in ss]),
                         "gflops": gflops,
                         "percent_of_peak": 100 * gflops / peak if gflops and peak else None,
                         "compute_stage": [s.get("stage") for s in ss if s.get("stage")],
                         "compute_stage_gflops": stage_gflops,
                         "compute_stage_percent_of_peak": 100 * stage_gflops / peak if stage_gflops and peak else None,
                         "compute_stage_percent_of_sgemm": 100 * stage_gflops / sgemm if stage_gflops and sgemm else None,
                         "failed_runs": len(samples.get((r.name, k), [])) - len(ss)})
    go_ref = next((r.name for r in runners if r.kind == "go"), None)
    for row in rows:
        ref = next((x for x in rows if x["runner"] == go_ref and x["k"] == row["k"]), None)
        if ref and ref["images_per_s"] and row["images_per_s"]:
            row["ratio_to_go"] = row["images_per_s"] / ref["images_per_s"]
            row["go_speedup"] = ref["images_per_s"] / row["images_per_s"]
        else:
            row["ratio_to_go"] = row["go_speedup"] = None
    res["throughput"] = rows

    # 3. Single-image latency: process start to PNG on disk, K=1, first image.
    lat_runners = [] if a.latency == "none" else (
        runners if a.latency == "all" else [r for r in runners if r.name in a.latency.split()])
    lat_samples = {}
    for run in range(a.runs):
        order = lat_runners[run % max(1, len(lat_runners)):] + lat_runners[:run % max(1, len(lat_runners))]
        for r in order:
            tag = f"latency-{r.name}-r{run}"
            got = run_once(r, images[:1], 1, os.path.join(out_root, f"latency-{r.name}"),
                           log_of(tag), a.timeout, watch_first_png=True)
            print(f"latency run {run + 1}/{a.runs} {r.label}: PNG at "
                  f"{fmt(got['first_png_s'])}s, exit at {got['wall_s']:.2f}s", file=sys.stderr)
            if got["rc"] == 0 and got["first_png_s"] is not None:
                lat_samples.setdefault(r.name, []).append(got)
    res["latency"] = {}
    for r in lat_runners:
        ss = lat_samples.get(r.name, [])
        if ss:
            res["latency"][r.name] = {
                "label": r.label, "image": os.path.basename(images[0]),
                "first_png_s": median([s["first_png_s"] for s in ss]),
                "first_png_s_all": [round(s["first_png_s"], 3) for s in ss],
                "wall_s": median([s["wall_s"] for s in ss]),
                "maxrss_mb": median([s["maxrss_mb"] for s in ss])}
    py = {n: l for n, l in res["latency"].items()
          if next(r for r in runners if r.name == n).kind == "python"}
    if go_ref in res["latency"] and py:
        fastest = min(py, key=lambda n: py[n]["first_png_s"])
        res["latency_fastest_python"] = fastest
        res["latency_ratio"] = res["latency"][go_ref]["first_png_s"] / py[fastest]["first_png_s"]
    res["load_average_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    res["notes"] = notes
    res["results_path"] = os.path.join(a.work, "results.json")
    with open(res["results_path"], "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print_table(res)


if __name__ == "__main__":
    main()
