#!/bin/sh
# saliency, as installed by `make install` or unpacked from `make dist`: checks
# that the TensorFlow libraries are where the install put them, so that a tree
# missing them fails with one line that says where it looked and what to do,
# not the dynamic loader's message alone; then runs the program. The program
# (lib/saliency/saliency) finds the libraries beside itself (RUNPATH $ORIGIN),
# so the tree works wherever it is moved.
self=$(readlink -f -- "$0") || self=$0
lib=$(dirname -- "$self")/../lib/saliency
for f in saliency libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
	if [ ! -r "$lib/$f" ]; then
		lib=$(cd -- "$(dirname -- "$lib")" 2>/dev/null && pwd)/saliency
		echo "saliency: cannot run: $lib/$f is missing (this install keeps the program and its TensorFlow libraries there): install again with make install, or unpack the whole release archive" >&2
		exit 127
	fi
done
exec "$lib/saliency" "$@"
