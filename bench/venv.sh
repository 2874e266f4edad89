#!/usr/bin/env bash
# Creates build/bench/venv: the Python peers (bench/requirements.txt) beside the
# product's .venv. The product's packages come through a .pth file; the peers and
# tf-keras are installed with --no-deps, so that nothing can replace .venv's
# tensorflow, keras or numpy. Used by `make peers` (the peers' parity tests) and
# bench/run.sh. Does nothing when the venv is newer than the requirements.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/build/bench/venv
PRODUCT_VENV=$ROOT/.venv
REQUIREMENTS=$ROOT/bench/requirements.txt

[[ -x $PRODUCT_VENV/bin/python ]] || { echo "bench/venv.sh: $PRODUCT_VENV is missing: run make setup" >&2; exit 1; }
if [[ -f $VENV/.stamp && ! $REQUIREMENTS -nt $VENV/.stamp ]]; then
    exit 0
fi
echo "bench/venv.sh: creating $VENV" >&2
rm -rf "$VENV"
BASE_PY=$("$PRODUCT_VENV/bin/python" -c 'import sys; print(sys._base_executable)')
"$BASE_PY" -m venv "$VENV"
PRODUCT_SITE=$("$PRODUCT_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
BENCH_SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PRODUCT_SITE" > "$BENCH_SITE/_saliency_product_venv.pth"
"$VENV/bin/python" -m pip install -q --no-deps -r "$REQUIREMENTS"
# tensorflow, keras and numpy must come from .venv, the peers from the bench venv.
"$VENV/bin/python" - "$PRODUCT_SITE" <<'PY'
import importlib.util, sys
site = sys.argv[1]
for mod in ("tensorflow", "numpy", "keras"):
    origin = importlib.util.find_spec(mod).origin
    assert origin.startswith(site), f"{mod} comes from {origin}, not {site}"
for mod in ("tf_keras", "tf_keras_vis", "saliency", "scipy", "skimage"):
    assert importlib.util.find_spec(mod) is not None, f"{mod} is not installed"
PY
touch "$VENV/.stamp"
