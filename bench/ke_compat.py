"""Lets keras-explainable (last commit 2022, written for Keras 2.10/2.11) import on
TensorFlow 2.21, at run time, without touching its source.

keras-explainable is a Keras 2 library: it imports `keras` (callbacks, backend) and
Keras 2 internals by their pre-2.13 names (keras.engine.data_adapter,
keras.engine.training, keras.layers.normalization..., keras.utils.tf_utils; Keras
2.13-2.15 kept them at keras.src.*, which the previous version of this file used). On
TensorFlow 2.16+ the `keras` package is Keras 3, which has none of them; Keras 2
lives on as the tf-keras package (`tf_keras`, public API at tf_keras.X, internals at
tf_keras.src.X), and TF_USE_LEGACY_KERAS=1 makes `tf.keras` that package.

install() puts a finder first on sys.meta_path that answers, in this process only,
`keras` with `tf_keras` and every `keras.X` with `tf_keras.src.X`: up to Keras 2.12,
keras.X was the module that tf-keras now keeps at tf_keras.src.X (keras.engine.*,
keras.utils.tf_utils, keras.callbacks, keras.backend...). One module object under two
names, so isinstance checks against the model that tf.keras loaded still hold.
Nothing else is changed. It must run before anything imports Keras 3, in a process
with TF_USE_LEGACY_KERAS=1.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != "keras" and not name.startswith("keras."):
            return None
        new = "tf_keras" if name == "keras" else "tf_keras.src" + name[len("keras"):]
        try:
            if importlib.util.find_spec(new) is None:
                return None
        except ModuleNotFoundError:
            return None
        return importlib.util.spec_from_loader(name, self, origin=new)

    def create_module(self, spec):
        return importlib.import_module(spec.origin)

    def exec_module(self, module):
        pass


def install():
    if os.environ.get("TF_USE_LEGACY_KERAS") not in ("1", "true", "True"):
        raise RuntimeError("ke_compat: run with TF_USE_LEGACY_KERAS=1, so that tf.keras "
                           "is tf-keras (Keras 2), as keras-explainable expects")
    keras = sys.modules.get("keras")
    if keras is not None and not keras.__name__.startswith("tf_keras"):
        raise RuntimeError("ke_compat: Keras 3 was imported before install(); "
                           "keras-explainable needs `keras` to be tf-keras (Keras 2)")
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
