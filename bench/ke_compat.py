"""Lets keras-explainable (last commit 2022, written for Keras 2.10/2.11) import on
Keras 2.15, at run time, without touching its source.

Keras 2.13 moved its internals from keras.X to keras.src.X and kept only the public
API at keras.X. keras-explainable imports internals by their old names
(keras.engine.data_adapter, keras.engine.training, keras.layers.normalization...,
keras.utils.tf_utils). install() puts a finder first on sys.meta_path that answers
exactly those old names with the already-imported keras.src modules (one module
object under two names, so isinstance checks still hold). Nothing else is changed.
"""

import importlib
import importlib.abc
import importlib.util
import sys

# Old internal names that keras-explainable imports, by prefix.
MOVED = (
    "keras.engine",
    "keras.layers.normalization",
    "keras.layers.pooling",
    "keras.layers.reshaping",
    "keras.utils.tf_utils",
)


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if not any(name == p or name.startswith(p + ".") for p in MOVED):
            return None
        new = "keras.src" + name[len("keras"):]
        if importlib.util.find_spec(new) is None:
            return None
        return importlib.util.spec_from_loader(name, self, origin=new)

    def create_module(self, spec):
        return importlib.import_module(spec.origin)

    def exec_module(self, module):
        pass


def install():
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
