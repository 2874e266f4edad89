"""The README's scaling table: the Go CLI's time and peak memory against the
number of images, the number of units K and the model's input size, each with
the share of the machine's float32 peak it reaches (bench/run-scaling.sh sets
it up; `make scaling` runs it).

Every point is one fresh process, `saliency explain -q --profile`, timed from
here (wall time, peak RSS from os.wait4) and from its own --profile lines (the
compute stage, and its rate after the first batch). One run per point: the
benchmark (`make bench`, medians of 3) puts the spread of repeated runs at a
few per cent on this machine.

Work per image: the model's forward pass as TensorFlow's profiler counts it
(bench/flops.py), twice that per unit for a forward and backward pass, with
the Go CLI's own plan: a fused top-1 call at K = 1, the shared forward pass
for groups of five units (bench.gflop_per_image).
"""

import argparse
import datetime
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the machine's peak, the work per image, --profile's parser)


def run_point(go_bin, model, images, k, out, log):
    subprocess.run(["rm", "-rf", out], check=True)
    os.makedirs(out)
    argv = [go_bin, "explain", "-q", "--profile", "--model", model, "--top-k", str(k), "-o", out, *images]
    with open(log, "w") as err:
        start = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, rusage = os.wait4(p.pid, 0)
        wall = time.monotonic() - start
    rc = os.waitstatus_to_exitcode(status)
    written = len(glob.glob(os.path.join(out, "*.png")))
    if rc != 0 or written != k * len(images):
        sys.exit(f"scaling.py: {' '.join(argv[:9])} ... exited {rc} with {written} PNGs; see {log}")
    return wall, rusage.ru_maxrss / 1024.0, bench.go_compute_stage(log, k)


def point(a, name, model, forward, n, k, peak, sgemm):
    images = a.images[:n]
    tag = f"{name}-n{n}-k{k}"
    wall, rss, stage = run_point(a.go_bin, model, images, k, os.path.join(a.work, "out", tag),
                                 os.path.join(a.work, "logs", tag + ".log"))
    work = bench.gflop_per_image(k, "go", forward)
    steady = stage["steady_s"] / (stage["steady_rows"] / k) if stage["steady_rows"] else None
    row = {"model": name, "images": n, "k": k, "wall_s": round(wall, 2), "maxrss_mb": round(rss),
           "s_per_image": wall / n, "compute_s": stage["compute_s"],
           "steady_s_per_image": steady, "gflop_per_image": work,
           "percent_of_peak": 100 * work * n / wall / peak,
           "compute_percent_of_peak": 100 * work / steady / peak if steady else None,
           "compute_gflops": work / steady if steady else None,
           "compute_percent_of_sgemm": 100 * work / steady / sgemm if steady and sgemm else None}
    print(f"{tag}: {wall:.1f} s, {rss:.0f} MB, compute {stage['compute_s']:.1f} s", file=sys.stderr)
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--go-bin", required=True)
    p.add_argument("--xception", required=True)
    p.add_argument("--resnet50", required=True)
    p.add_argument("--fashion", required=True)
    p.add_argument("--images-dir", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--counts", default="1 8 64 512")
    p.add_argument("--ks", default="1 2 5 10")
    p.add_argument("--k-images", type=int, default=16, help="images of the K axis")
    p.add_argument("--size-images", type=int, default=64, help="images of the input-size axis")
    a = p.parse_args()
    a.images = sorted(glob.glob(os.path.join(a.images_dir, "*.jpg")))
    counts, ks = [int(x) for x in a.counts.split()], [int(x) for x in a.ks.split()]
    need = max(counts + [a.k_images, a.size_images])
    if len(a.images) < need:
        sys.exit(f"scaling.py: {a.images_dir} has {len(a.images)} images, {need} needed")
    os.makedirs(os.path.join(a.work, "logs"), exist_ok=True)

    models = {"fashion": a.fashion, "resnet50": a.resnet50, "xception": a.xception}
    flops = json.loads(subprocess.run([os.path.join(os.path.dirname(sys.executable), "python"),
                                       os.path.join(HERE, "flops.py"), *models.values()],
                                      capture_output=True, text=True, check=True).stdout)
    forward = {name: flops[path] for name, path in models.items()}
    machine = {**bench.machine(), **bench.measured_peak()}
    peak, sgemm = machine["peak_gflops"], machine.get("sgemm_gflops")

    rows = {"images": [], "k": [], "input": []}
    for n in counts:
        rows["images"].append(point(a, "xception", a.xception, forward["xception"], n, 1, peak, sgemm))
    for k in ks:
        rows["k"].append(point(a, "xception", a.xception, forward["xception"], a.k_images, k, peak, sgemm))
    for name in ("fashion", "resnet50", "xception"):
        rows["input"].append(point(a, name, models[name], forward[name], a.size_images, 1, peak, sgemm))

    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine, "forward_gflop": forward, "rows": rows}
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    print_tables(res)


def print_tables(res):
    m = res["machine"]
    print(f"saliency scaling, {res['date']}: {m['cpu_model']}, {m['cores']} cores, {m['ghz']} GHz, "
          f"nominal peak {m['peak_gflops']:.0f} GFLOP/s float32; measured GEMM {m.get('sgemm_gflops')} "
          f"GFLOP/s (OpenBLAS), {m.get('tf_matmul_gflops')} (TensorFlow MatMul); one run per point")
    print("forward pass per image (TensorFlow's profiler): " + ", ".join(
        f"{k} {v:.3g} GFLOP" for k, v in res["forward_gflop"].items()))
    head = ("model", "input", "images", "K", "wall s", "s/image", "peak RSS MB", "compute s",
            "steady s/image", "% peak (process)", "% peak (compute)", "compute GFLOP/s", "% GEMM (compute)")
    sizes = {"fashion": "128x128", "resnet50": "224x224", "xception": "299x299"}
    for axis, title in (("images", "against the number of images (Xception, K = 1)"),
                        ("k", "against K (Xception)"),
                        ("input", "against the input size (K = 1)")):
        print()
        print(f"{title}:")
        print()
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in res["rows"][axis]:
            cells = (r["model"], sizes[r["model"]], str(r["images"]), str(r["k"]), f"{r['wall_s']:.1f}",
                     f"{r['s_per_image']:.3f}", f"{r['maxrss_mb']}", f"{r['compute_s']:.1f}",
                     bench.fmt(r["steady_s_per_image"], "{:.3f}"), f"{r['percent_of_peak']:.0f}%",
                     bench.fmt(r["compute_percent_of_peak"], "{:.0f}%"),
                     bench.fmt(r.get("compute_gflops"), "{:.1f}"),
                     bench.fmt(r.get("compute_percent_of_sgemm"), "{:.0f}%"))
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
