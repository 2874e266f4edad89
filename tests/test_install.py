"""The installed tool runs without the checkout (make install, make dist).

- `make install PREFIX=P` into a prefix that already holds a file of the
  user's; the tree is then moved elsewhere and its bin/saliency run from
  another folder with an empty environment (`env -i PATH=/usr/bin:/bin`):
  `--model xception` is found among the installed models, and the maps and
  raw arrays are byte for byte those of the checkout's bin/saliency on the
  same images; the program's RUNPATH is `$ORIGIN` alone and `ldd` resolves
  every library inside the moved tree, none in the checkout (at K = 1, at K = 5,
  which loads the model's shared-forward SavedModel, and with fullgrad, which
  loads its own: their weights stay hard links to the main ones); man pages and
  completions are in their usual places; a tree missing a TensorFlow library
  fails with one line naming it and exit 127; `make uninstall` leaves the
  prefix exactly as it was (same paths, the user's file untouched).
- `DESTDIR` stages the install under it.
- `make dist`: the archive matches its .sha256, unpacks to one
  saliency-VERSION folder that runs the same way with the same outputs.
"""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest

from conftest import ROOT

BARE = {"PATH": "/usr/bin:/bin"}
PHOTOS = ("chelsea", "coffee")
# (K, method): the main SavedModel, the shared-forward one and fullgrad's own.
RUNS = ((1, "gradients"), (5, "gradients"), (1, "fullgrad"))


def make(*args):
    proc = subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", *args],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"make {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def snapshot(folder):
    """Every path below folder, with each file's bytes hashed."""
    out = {}
    for p in sorted(pathlib.Path(folder).rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def explain(binary, cwd, out_dir, env=None, k=1, method="gradients"):
    """--model xception --top-k k --method method on the testdata photos; the
    records and each output's bytes."""
    photos = [str(ROOT / "testdata" / f"{n}.jpg") for n in PHOTOS]
    proc = subprocess.run([str(binary), "explain", "--model", "xception", "--top-k", str(k), "--method", method, "--raw", "--json",
                           "--out-dir", str(out_dir), *photos],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    files = {pathlib.Path(f).name: pathlib.Path(cwd, f).read_bytes()
             for r in records for f in [*r["maps"], r["raw"]]}
    for r in records:
        del r["maps"], r["raw"]
    return records, files


@pytest.fixture(scope="module")
def checkout_run(cli, model_path, tmp_path_factory):
    """The checkout's own bin/saliency on the same images: what an install must give."""
    d = tmp_path_factory.mktemp("checkout")
    env = dict(os.environ, SALIENCY_MODELS=str(pathlib.Path(model_path("xception")).parent))
    return {run: explain(cli.path, d, d / f"maps{run[0]}-{run[1]}", env, *run) for run in RUNS}


def assert_runs_bare(tree, tmp_path, checkout_run):
    """tree's bin/saliency, from another folder with nothing in the environment,
    at K = 1 (the main SavedModel), K = 5 (the shared-forward one) and with
    fullgrad (its own), whose weights are hard links to the main one's."""
    cwd = tmp_path / "somewhere-else"
    cwd.mkdir()
    for run in RUNS:
        records, files = explain(tree / "bin" / "saliency", cwd, f"maps{run[0]}-{run[1]}", BARE, *run)
        want_records, want_files = checkout_run[run]
        assert records == want_records
        assert files.keys() == want_files.keys()
        for name in files:
            assert files[name] == want_files[name], f"{run}: {name} differs from the checkout's"
    model = tree / "share" / "saliency" / "models" / "xception"
    for sub in ("shared", "fullgrad"):
        for f in (model / "variables").iterdir():
            assert (model / sub / "variables" / f.name).stat().st_ino == f.stat().st_ino, \
                f"{sub}/variables/{f.name} is not a hard link to variables/{f.name}"

    program = tree / "lib" / "saliency" / "saliency"
    dynamic = subprocess.run(["readelf", "-d", str(program)], capture_output=True, text=True).stdout
    runpath = [line for line in dynamic.splitlines() if "RUNPATH" in line or "RPATH" in line]
    assert len(runpath) == 1 and runpath[0].endswith("[$ORIGIN]"), runpath
    ldd = subprocess.run(["ldd", str(program)], capture_output=True, text=True, env=BARE).stdout
    assert "not found" not in ldd, ldd
    assert str(ROOT) not in ldd, ldd
    for lib in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
        assert f"{lib} => {tree}/lib/saliency/{lib}" in ldd, ldd


def test_install_moved_runs_bare_and_uninstalls(tmp_path, checkout_run):
    prefix = tmp_path / "prefix"
    (prefix / "share").mkdir(parents=True)
    (prefix / "share" / "mine.txt").write_text("the user's\n")
    before = snapshot(prefix)
    make("install", f"PREFIX={prefix}")

    moved = tmp_path / "moved" / "tree"
    moved.parent.mkdir()
    shutil.move(prefix, moved)
    assert_runs_bare(moved, tmp_path, checkout_run)
    pages = sorted(p.name for p in (moved / "share" / "man" / "man1").iterdir())
    assert pages == ["saliency-eval.1", "saliency-explain.1", "saliency-models.1", "saliency.1"]
    assert ".SH NAME" in (moved / "share" / "man" / "man1" / "saliency-explain.1").read_text()
    for completion in ("bash-completion/completions/saliency", "zsh/site-functions/_saliency",
                       "fish/vendor_completions.d/saliency.fish"):
        assert "saliency" in (moved / "share" / completion).read_text()
    assert (moved / "share" / "saliency" / "models" / "xception" / "saliency.json").is_file()

    # Without its TensorFlow library: one line that names it, exit 127.
    broken = tmp_path / "broken"
    shutil.copytree(moved, broken, symlinks=True)
    (broken / "lib" / "saliency" / "libtensorflow_cc.so.2").unlink()
    proc = subprocess.run([str(broken / "bin" / "saliency"), "models"], capture_output=True,
                          text=True, env=BARE)
    assert proc.returncode == 127
    assert proc.stderr.count("\n") == 1 and "libtensorflow_cc.so.2 is missing" in proc.stderr, proc.stderr
    assert str(broken / "lib" / "saliency") in proc.stderr

    shutil.move(moved, prefix)
    make("uninstall", f"PREFIX={prefix}")
    assert snapshot(prefix) == before


def test_destdir_stages_the_install(tmp_path):
    stage = tmp_path / "stage"
    make("install", f"DESTDIR={stage}", "PREFIX=/opt/saliency")
    assert (stage / "opt" / "saliency" / "bin" / "saliency").is_file()
    assert (stage / "opt" / "saliency" / "lib" / "saliency" / "libtensorflow_cc.so.2").is_file()
    make("uninstall", f"DESTDIR={stage}", "PREFIX=/opt/saliency")
    assert snapshot(stage) == {"opt": "dir", "opt/saliency": "dir"}


def test_release_archive_runs_bare(tmp_path, checkout_run):
    make("dist")
    dist = ROOT / "build" / "dist"
    archives = list(dist.glob("saliency-*-linux-amd64.tar.gz"))
    assert len(archives) == 1, archives
    archive = archives[0]
    digest, name = (dist / f"{archive.name}.sha256").read_text().split()
    assert name == archive.name
    assert digest == hashlib.sha256(archive.read_bytes()).hexdigest()
    with tarfile.open(archive) as tar:
        tops = {m.name.split("/")[0] for m in tar.getmembers()}
        assert tops == {archive.name.removesuffix("-linux-amd64.tar.gz")}
        tar.extractall(tmp_path / "unpacked", filter="tar")
    tree = tmp_path / "unpacked" / tops.pop()
    assert not (tree / "lib" / "saliency" / "installed").exists()
    assert_runs_bare(tree, tmp_path, checkout_run)
