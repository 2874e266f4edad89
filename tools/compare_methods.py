"""Runs `saliency eval` and `saliency explain` once per method on the same
held-out composites and prints the comparison table of the README (Markdown)
and, with --json FILE, the same numbers as JSON.

  .venv/bin/python tools/compare_methods.py --model fashion --dir build/composites/heldout

Time per image is the wall time of `saliency explain -q --method M` over the
first --time-images composites (model load included once), divided by their
number; eval's own run includes the randomised model too, so it is not timed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# (method, flags, composites to score: 0 for all, fewer for the slow path
# methods, whose eval also explains the randomised model).
METHODS = [
    ("gradients", [], 0),
    ("smoothgrad", [], 0),
    ("integrated", [], 0),
    ("blurig", [], 200),
    ("guidedig", [], 200),
    ("xrai", [], 100),
    ("gradxinput", [], 0),
    ("fullgrad", [], 0),
    ("occlusion", [], 0),
    ("cam", [], 0),
    ("gradcam", [], 0),
    ("gradcampp", [], 0),
    ("layercam", [], 0),
    ("xgradcam", [], 0),
    ("hirescam", [], 0),
    ("scorecam", [], 200),
    ("eigencam", [], 0),
    ("gradients", ["--smooth", "25"], 0),
    ("gradcam", ["--smooth", "25"], 0),
    ("gradients", ["--tta", "flip,0.75,1.25"], 0),
]


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.path.join(here, "bin", "saliency"))
    p.add_argument("--model", default="fashion")
    p.add_argument("--dir", default=os.path.join(here, "build", "composites", "heldout"))
    p.add_argument("--limit", type=int, default=0,
                   help="composites to score (0: all; the smaller of this and a method's own limit)")
    p.add_argument("--methods", help="comma-separated: only these methods' rows")
    p.add_argument("--time-images", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()

    with open(os.path.join(args.dir, "boxes.json")) as f:
        names = sorted(json.load(f))[:args.time_images]
    rows = []
    for name, flags, own_limit in METHODS:
        if args.methods and name not in args.methods.split(","):
            continue
        cmd = [args.bin, "eval", "--model", args.model, "--method", name, "-b", str(args.batch_size),
               "--json", *flags]
        limit = min(n for n in (args.limit, own_limit) if n) if args.limit or own_limit else 0
        if limit:
            cmd += ["--limit", str(limit)]
        out = subprocess.run(cmd + [args.dir], capture_output=True, text=True)
        if out.returncode != 0:  # a method this model or binary lacks: say so, go on
            print(f"{name} {' '.join(flags)}: skipped: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        report = json.loads(out.stdout)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([args.bin, "explain", "-q", "--model", args.model, "--method", name,
                            "-b", str(args.batch_size), "-o", tmp, *flags,
                            *[os.path.join(args.dir, n) for n in names]], check=True)
            per_image = (time.perf_counter() - t0) / len(names)
        report["seconds_per_image"] = round(per_image, 4)
        rows.append(report)
        report["label"] = " ".join([name, *flags])
        report["limit"] = limit
        print(f"{report['label']}: done", file=sys.stderr)

    r0 = rows[0]
    print(f"{r0['images']} held-out composites, model {args.model} (top-1 accuracy {r0['accuracy']:.3f}), "
          f"uniform baseline {r0['uniform_baseline']:.3f}\n")
    print("| method | composites | pointing game | energy in box | energy / uniform | Spearman vs random model "
          "| s per image |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| `{r['label']}` | {r['images']} | {r['pointing_game']:.3f} | {r['energy_in_box']:.3f} | "
              f"{r['energy_in_box'] / r['uniform_baseline']:.2f}x | {r.get('randomization_spearman', float('nan')):.3f} | "
              f"{r['seconds_per_image']:.3f} |")
    print(f"| uniform map | | {r0['uniform_baseline']:.3f} | {r0['uniform_baseline']:.3f} | 1.00x | | |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
