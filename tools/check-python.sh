#!/usr/bin/env bash
# Usage: tools/check-python.sh PYTHON VERSION...
# Exits 0 when PYTHON runs and is one of the VERSIONs (major.minor); otherwise says,
# in one line, what was found, which versions work and how to pass one.
set -uo pipefail
py=$1; shift
want="$*"
if ! have=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
  echo "make: Python interpreter '$py' not found; TensorFlow 2.21 needs Python ${want// /, }: run e.g. make setup PYTHON=python3.12" >&2
  exit 1
fi
for v in $want; do
  [ "$v" = "$have" ] && exit 0
done
echo "make: $py is Python $have; TensorFlow 2.21 needs Python ${want// /, }: run e.g. make setup PYTHON=python3.12 (or PYTHON=/path/to/python3.1x)" >&2
exit 1
