"""What models/export.py exports, built from what the user has.

A Keras application (--app), a Keras model (--keras, or export.export's caller) or
someone else's SavedModel (--savedmodel) becomes a Net: the classifier's logits as a
function of raw 0..255 RGB images (its preprocessing inside), the Grad-CAM layer's
activations where one is reachable, and the checks that the written SavedModel
must pass. The preprocessing constants, the table of Keras applications and the
ImageNet label names live here too. Nothing here knows the signatures or the
manifest's layout; export.py does.
"""

import collections
import importlib.util
import os
import re

CHECK_SEED = 0  # the self-check's random images


class Refusal(Exception):
    """A model or request export.py will not export; the message says why in one line."""


def note(message):
    """A line of the report (stdout: stderr holds only a refusal's one line)."""
    print(f"export.py: {message}", flush=True)


# ---------------------------------------------------------------- preprocessing
# Written from the published constants (keras.applications.imagenet_utils), not by
# calling Keras' preprocess_input, so tests can compare the two.

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def tf_preprocess(x):
    """Mode "tf": 0..255 to -1..1."""
    return x / 127.5 - 1.0


def caffe_preprocess(x):
    """Mode "caffe": RGB to BGR, minus the ImageNet BGR means."""
    import tensorflow as tf
    return x[..., ::-1] - tf.constant(CAFFE_BGR_MEAN, x.dtype)


def torch_preprocess(x):
    """Mode "torch": 0..1, minus the ImageNet means, over their standard deviations."""
    import tensorflow as tf
    return (x / 255.0 - tf.constant(TORCH_MEAN, x.dtype)) / tf.constant(TORCH_STD, x.dtype)


xception_preprocess = tf_preprocess  # models/fashion.py's name for it

PREPROCESS = {  # mode: (function, the manifest's human-readable description)
    "none": (None, "none added (the model gets 0..255 RGB; any scaling is its own)"),
    "tf": (tf_preprocess, "x / 127.5 - 1 (inside the graph)"),
    "caffe": (caffe_preprocess, "RGB to BGR, minus the ImageNet BGR means "
              "[103.939, 116.779, 123.68] (inside the graph)"),
    "torch": (torch_preprocess, "x / 255, minus the ImageNet means [0.485, 0.456, 0.406], "
              "over the standard deviations [0.229, 0.224, 0.225] (inside the graph)"),
}


def preprocess_mode(fn):
    """The mode name of a preprocessing function ("custom" if it is none of ours)."""
    return next((m for m, (f, _) in PREPROCESS.items() if f is fn), "custom")


# ---------------------------------------------------------------- Keras applications

App = collections.namedtuple("App", "cls size preprocess inside")
_INSIDE_RESCALE = "none added: the model rescales 0..255 itself ({})"
_EFF = _INSIDE_RESCALE.format("EfficientNet's Rescaling and Normalization layers")
_EFF2 = _INSIDE_RESCALE.format("EfficientNetV2's include_preprocessing layers")
_CNX = _INSIDE_RESCALE.format("ConvNeXt's include_preprocessing Normalization layer")
_MN3 = _INSIDE_RESCALE.format("MobileNetV3's include_preprocessing Rescaling layer")
APPS = {  # name: keras.applications class, default input size, preprocessing mode
    "xception": App("Xception", 299, "tf", None),
    "inception_v3": App("InceptionV3", 299, "tf", None),
    "inception_resnet_v2": App("InceptionResNetV2", 299, "tf", None),
    "mobilenet": App("MobileNet", 224, "tf", None),
    "mobilenet_v2": App("MobileNetV2", 224, "tf", None),
    "mobilenet_v3_small": App("MobileNetV3Small", 224, "none", _MN3),
    "mobilenet_v3_large": App("MobileNetV3Large", 224, "none", _MN3),
    "resnet50": App("ResNet50", 224, "caffe", None),
    "resnet101": App("ResNet101", 224, "caffe", None),
    "resnet152": App("ResNet152", 224, "caffe", None),
    "resnet50_v2": App("ResNet50V2", 224, "tf", None),
    "resnet101_v2": App("ResNet101V2", 224, "tf", None),
    "resnet152_v2": App("ResNet152V2", 224, "tf", None),
    "vgg16": App("VGG16", 224, "caffe", None),
    "vgg19": App("VGG19", 224, "caffe", None),
    "densenet121": App("DenseNet121", 224, "torch", None),
    "densenet169": App("DenseNet169", 224, "torch", None),
    "densenet201": App("DenseNet201", 224, "torch", None),
    **{f"efficientnet_b{i}": App(f"EfficientNetB{i}", s, "none", _EFF)
       for i, s in enumerate((224, 240, 260, 300, 380, 456, 528, 600))},
    **{f"efficientnet_v2_{v}": App(f"EfficientNetV2{v.upper()}", s, "none", _EFF2)
       for v, s in (("b0", 224), ("b1", 240), ("b2", 260), ("b3", 300),
                    ("s", 384), ("m", 480), ("l", 480))},
    **{f"convnext_{v}": App(f"ConvNeXt{v.capitalize()}", 224, "none", _CNX)
       for v in ("tiny", "small", "base", "large", "xlarge")},
}


def app_name(name):
    """The canonical name for NAME or an alias (case, '_' and '-' ignored: resnet50v2)."""
    squash = lambda s: re.sub(r"[-_]", "", s.lower())
    found = {squash(k): k for k in APPS}.get(squash(name))
    if found is None:
        raise Refusal(f"--app {name}: unknown; known: {', '.join(APPS)}")
    return found


def build_app(name, weights, seed, size=None, alpha=None):
    """keras.applications' NAME with linear logits; weights 'none', 'imagenet' or a file."""
    import keras

    app = APPS[name]
    h, w = size or (app.size, app.size)
    kwargs = {"classifier_activation": None, "input_shape": (h, w, 3)}
    if alpha is not None:
        kwargs["alpha"] = alpha
    cls = getattr(keras.applications, app.cls)
    if weights == "none":
        keras.utils.set_random_seed(seed)
    try:
        model = cls(weights="imagenet" if weights == "imagenet" else None, **kwargs)
    except Exception as e:  # Keras' download error or its input-size check
        what = "could not build it with imagenet weights" if weights == "imagenet" else "cannot build it"
        raise Refusal(f"--app {name}: {what}: {first_line(e)}") from None
    if weights not in ("none", "imagenet"):
        try:
            model.load_weights(weights)
        except Exception as e:
            raise Refusal(f"--weights {weights}: cannot load into {app.cls}: {first_line(e)}") from None
    return model


def first_line(e):
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    return lines[0] if lines else type(e).__name__


# ---------------------------------------------------------------- labels

def imagenet_labels():
    """ImageNet-1k class ids and names in Keras' class order.

    Keras fetches its class index from the network at run time; timm's wheel ships
    the same 1000 WordNet ids (sorted, which is Keras' order) with their lemmas.
    """
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise Refusal("the timm package (installed by `make setup`, without its "
                      "dependencies) is needed for the ImageNet label names; or give --labels")
    info = os.path.join(spec.submodule_search_locations[0], "data", "_info")
    with open(os.path.join(info, "imagenet_synsets.txt")) as f:
        synsets = [line.strip() for line in f if line.strip()]
    lemmas = {}
    with open(os.path.join(info, "imagenet_synset_to_lemma.txt")) as f:
        for line in f:
            wnid, _, lemma = line.rstrip("\n").partition("\t")
            lemmas[wnid] = lemma
    if len(synsets) != 1000:
        raise Refusal(f"expected 1000 ImageNet synsets in timm, found {len(synsets)}")
    return synsets, [lemmas[w].split(",")[0].strip() for w in synsets]


def choose_labels(classes, labels_file, imagenet):
    """(names, ids or None): from --labels, ImageNet's (1000 classes; 1001 with a
    background class first, as TF-slim models have), or 'class i'."""
    if labels_file:
        with open(labels_file, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) != classes:
            raise Refusal(f"--labels {labels_file}: {len(names)} labels for {classes} classes")
        return names, None
    if classes in (1000, 1001):
        ids, names = imagenet_labels()
        if classes == 1001:
            ids, names = ["background"] + ids, ["background"] + names
        if not imagenet:
            note(f"{classes} classes: assuming ImageNet-1k label names (give --labels otherwise)")
        return names, ids
    return [f"class {i}" for i in range(classes)], None


# ---------------------------------------------------------------- what gets exported

class Net:
    """What the signatures are built from: logits(images) and, when a CAM layer is
    reachable, features(images) -> (activations, logits), both taking raw 0..255
    images (the preprocessing is inside); inline_logits(images), the logits traced
    op by op, when they can be (a Keras model, not a loaded SavedModel); the
    checks the self-check makes on check_images; the manifest's account of the
    output and the CAM layer; and track, what ExportArchive must track beyond the
    variables the signatures use (which add_endpoint tracks itself).

    A Keras model is not tracked: tracking adds nothing an image classifier needs
    (it is for lookup tables, and for .variables on the reloaded object), and
    write_out then walks the model as a SavedModel would, tracing its forward pass
    once more: about 5 s of a DenseNet121 export. A loaded SavedModel is tracked,
    as its resources (tables, assets) may be used by its signature."""

    def __init__(self, **fields):
        self.features = self.cam = self.cam_unavailable = self.inline_logits = None
        self.preprocess = self.biased = self.biased_unavailable = None
        self.__dict__.update(fields)


def check_images(h, w):
    import numpy as np
    return np.random.default_rng(CHECK_SEED).uniform(0, 255, (3, h, w, 3)).astype(np.float32)


def resolve_size(dims, size, what):
    """The input size: the model's, or --size where the model leaves it open."""
    if size:
        if any(d is not None and d != s for d, s in zip(dims, size)):
            raise Refusal(f"{what} input is {fmt_size(dims)}; --size {fmt_size(size)} differs")
        return size
    if None in dims:
        raise Refusal(f"{what} input is {fmt_size(dims)}: give its size with --size HxW")
    return tuple(dims)


def fmt_size(hw):
    return "x".join("None" if d is None else str(d) for d in hw)


def looks_like_probabilities(p):
    import numpy as np
    return bool((p >= 0).all() and np.abs(p.sum(axis=1) - 1).max() < 1e-3)


LOG_PROB_NOTE = ("log-probabilities differ from logits by a per-image shift, so units rank "
                 "the same, but their gradients include the log-sum-exp term")
SOFTMAXES = ("softmax", "log_softmax")


def strip_softmax(model):
    """(model on its logits, what was removed, "softmax" or "log_softmax") for a
    model whose output is a Softmax layer, Activation('softmax') or
    Dense(activation='softmax') (or log_softmax); (model, None, None) otherwise."""
    import keras

    op, node_index, _ = model.outputs[0]._keras_history
    node = op._inbound_nodes[node_index]
    act = lambda f: getattr(f, "__name__", "")
    kind = act(getattr(op, "activation", None))
    if isinstance(op, keras.layers.Softmax) and op.axis in (-1, 1):
        kind, logits, what = "softmax", node.input_tensors[0], f"Softmax layer {op.name!r}"
    elif isinstance(op, keras.layers.Activation) and kind in SOFTMAXES:
        logits, what = node.input_tensors[0], f"Activation({kind!r}) layer {op.name!r}"
    elif isinstance(op, keras.layers.Dense) and kind in SOFTMAXES:
        config = dict(op.get_config(), activation=None, name=op.name + "_logits")
        linear = type(op).from_config(config)   # the same Dense without its activation
        logits = linear(node.input_tensors[0])
        linear.set_weights(op.get_weights())
        what = f"{kind} activation of Dense layer {op.name!r}"
    else:
        return model, None, None
    return keras.Model(model.inputs[0], logits, name=model.name + "_logits"), what, kind


def walk_back(model):
    """The model's tensors, breadth first from its output towards its input."""
    from keras import layers

    queue, seen = collections.deque(model.outputs[:1]), set()
    while queue:
        t = queue.popleft()
        if id(t) in seen:
            continue
        seen.add(id(t))
        op, node_index, _ = t._keras_history
        if op is None or isinstance(op, layers.InputLayer):
            continue
        yield t, op
        queue.extend(op._inbound_nodes[node_index].input_tensors)


def cam_tensor(model, name=None, original=None):
    """(tensor, layer name, how it was chosen) for Grad-CAM in model, or None; a
    named layer is looked up in original (the model before strip_softmax)."""
    from keras import layers

    if name:
        try:
            layer = (original or model).get_layer(name)
        except ValueError:
            raise Refusal(f"--cam-layer {name}: no such layer at the model's top level "
                          "(layers inside nested models are out of reach)") from None
        if len(layer._inbound_nodes) != 1:
            raise Refusal(f"--cam-layer {name}: the layer is used {len(layer._inbound_nodes)} times")
        outs = layer._inbound_nodes[0].output_tensors
        if len(outs) != 1 or len(outs[0].shape) != 4:
            raise Refusal(f"--cam-layer {name}: output {[tuple(o.shape) for o in outs]} is not 4-D")
        return outs[0], name, "--cam-layer"
    pools = (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)
    for t, op in walk_back(model):
        if isinstance(op, pools):
            fed = op._inbound_nodes[t._keras_history.node_index].input_tensors[0]
            return fed, fed._keras_history.operation.name, "feeds global pooling"
    for t, op in walk_back(model):
        if len(t.shape) == 4:
            return t, op.name, "last 4-D layer"
    return None


def keras_net(model, preprocess=None, cam_layer=None, size=None):
    """A Net for a functional (or Sequential) Keras classifier."""
    import keras
    import numpy as np
    import tensorflow as tf

    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise Refusal("the model has no functional graph (subclassed?): export it with "
                      "model.export(DIR) and use --savedmodel DIR")
    if len(inputs) != 1:
        raise Refusal(f"the model has {len(inputs)} inputs; saliency explains one image batch")
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3:
        raise Refusal(f"the model's input is {shape}; want [N, H, W, 3] (RGB images)")
    if not keras.backend.standardize_dtype(inputs[0].dtype).startswith(("float", "bfloat")):
        raise Refusal(f"the model's input is {inputs[0].dtype}; gradients need a float input")
    if len(outputs) != 1 or len(outputs[0].shape) != 2 or (outputs[0].shape[1] or 2) < 2:
        raise Refusal(f"the model's output is {[tuple(o.shape) for o in outputs]}; "
                      "want one [N, classes] tensor with classes >= 2")
    h, w = resolve_size(shape[1:3], size, "the model's")
    pre = preprocess or (lambda x: x)

    # Called on one tensor from here on (a model loaded from a file wants a list).
    model = keras.Model(inputs[0], outputs[0], name=model.name)
    head, removed, kind = strip_softmax(model)
    x = check_images(h, w)
    given = np.asarray(model(pre(x), training=False), np.float32)
    classes = given.shape[1]
    if classes < 2:
        raise Refusal(f"the model gives {classes} class; want [N, classes] with classes >= 2")
    log = False
    if removed:
        note(f"the model ends in a softmax: exporting its logits ({removed} removed)")
        probs = np.exp(given) if kind == "log_softmax" else given
        checks = [("softmax of the exported logits vs the model's probabilities", probs, "softmax"),
                  ("exported logits vs the model without its softmax",
                   np.asarray(head(pre(x), training=False), np.float32), None)]
        output = {"kind": "logits", "softmax_removed": True,
                  "note": f"The model ended in a softmax ({removed}); it was removed, so the "
                          "outputs are the logits it was applied to."}
    elif looks_like_probabilities(given):
        note("warning: the model's outputs are probabilities (rows sum to 1) from no softmax layer "
             "export.py can remove: exporting log-probabilities log(max(p, tiny))")
        log = True
        checks = [("softmax of the exported log-probabilities vs the model's probabilities",
                   given, "softmax")]
        output = {"kind": "log_probabilities", "softmax_removed": False,
                  "note": f"The model outputs probabilities; the export gives log(max(p, tiny)): "
                          f"{LOG_PROB_NOTE}."}
    else:
        checks = [("exported logits vs the model", given, None)]
        output = {"kind": "logits", "softmax_removed": False,
                  "note": "The model's output is linear: the exported logits are its outputs."}

    tiny = np.finfo(np.float32).tiny

    def finish(y):
        y = tf.cast(y, tf.float32)
        return tf.math.log(tf.maximum(y, tiny)) if log else y

    # One trace of the model's forward pass serves serving_default, gradients and
    # top1 (each calls it): Keras' Python-level tracing is the slow part of an export.
    forward = tf.function(lambda images: head(pre(images), training=False), autograph=False
                          ).get_concrete_function(tf.TensorSpec([None, h, w, 3], tf.float32))

    def logits(images):
        return finish(forward(images))

    net = Net(height=h, width=w, classes=classes, logits=logits, output=output, checks=checks,
              check_images=x, track=[])
    # The same, traced op by op into the caller (no shared function call): what a
    # persistent tape needs to run several backward passes from one forward pass
    # (export.py's SHARED_UNITS signature).
    net.inline_logits = lambda images: finish(head(pre(images), training=False))
    net.preprocess = pre
    one = tf.constant(x[:1])
    if tuple(pre(one).shape) != tuple(one.shape):
        net.biased_unavailable = f"the preprocessing changes the input's shape {tuple(one.shape)} to {tuple(pre(one).shape)}"
    else:
        net.biased, net.biased_unavailable = biased_net(
            head, pre(one), np.asarray(finish(head(pre(one), training=False)), np.float64), finish, log)
    if net.biased_unavailable:
        note(f"FullGrad unavailable: {net.biased_unavailable}")
    found = cam_tensor(head, cam_layer, model)
    if found is None:
        net.cam_unavailable = "the model has no 4-D layer output"
        note("Grad-CAM unavailable: the model has no 4-D layer output")
        return net
    tensor, name, choice = found
    features = keras.Model(head.inputs[0], [tensor, head.outputs[0]], name=model.name + "_features")

    def feats(images):
        acts, y = features(pre(images), training=False)
        return tf.cast(acts, tf.float32), finish(y)

    net.features, net.cam = feats, {"layer": name, "layer_choice": choice,
                                    "pooled_linear": pooled_linear(head, tensor)}
    return net


def pooled_linear(model, fed):
    """Whether model's logits are a linear function of the global average of the
    tensor fed over its positions: fed -> GlobalAveragePooling2D -> (Dropout)* ->
    Dense without activation = the output. Only there is class activation mapping
    defined (Zhou et al. 2016: the map of unit u is sum_c W[c, u] A_c, W the Dense
    kernel), and there d logit_u / d A_c(x, y) = W[c, u] / positions at every
    position, so the gradcam signature's gradients carry W."""
    from keras import layers

    op, node_index, _ = model.outputs[0]._keras_history
    if not isinstance(op, layers.Dense) or getattr(op.activation, "__name__", "") != "linear":
        return False
    t = op._inbound_nodes[node_index].input_tensors[0]
    op, node_index, _ = t._keras_history
    while isinstance(op, layers.Dropout):
        t = op._inbound_nodes[node_index].input_tensors[0]
        op, node_index, _ = t._keras_history
    if not isinstance(op, layers.GlobalAveragePooling2D) or op.keepdims or op.data_format != "channels_last":
        return False
    return op._inbound_nodes[node_index].input_tensors[0] is fed


def graph_output_op(fn, index):
    """The type of the op that makes fn's output number index, looking through
    Identity ops and into the functions that call ops run (a SavedModel's signature
    calls the model's function, which calls the layers' ...); None if lost."""
    graph = fn.graph.as_graph_def()
    library = {f.signature.name: f for f in graph.library.function}
    nodes = {n.name: n for n in graph.node}
    t = fn.outputs[index]
    name, i, inner = t.op.name, t.value_index, False
    for _ in range(10000):
        node = nodes.get(name)
        if node is None:
            return None  # a function argument
        if node.op in ("Identity", "IdentityN", "Cast"):
            ref = [r for r in node.input if not r.startswith("^")][i if node.op == "IdentityN" else 0]
        elif node.op in ("PartitionedCall", "StatefulPartitionedCall") and node.attr["f"].func.name in library:
            callee = library[node.attr["f"].func.name]
            ref = callee.ret[callee.signature.output_arg[i].name]
            nodes, inner = {n.name: n for n in callee.node_def}, True
        else:
            return node.op
        # a reference is "node:index" in a graph, "node:output_arg:index" in a function
        parts = ref.split(":")
        name, i = parts[0], int(parts[-1]) if len(parts) > (2 if inner else 1) else 0
    return None


def savedmodel_net(path, signature="serving_default", output=None, preprocess=None, size=None):
    """A Net for a classifier SavedModel: its signature, wrapped. A loaded concrete
    function is differentiable; its layers are not reachable, so no Grad-CAM."""
    import numpy as np
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as e:
        raise Refusal(f"--savedmodel {path}: cannot load: {first_line(e)}") from None
    if signature not in loaded.signatures:
        raise Refusal(f"--signature {signature}: not in the SavedModel (it has: "
                      f"{', '.join(loaded.signatures) or 'none'})")
    fn = loaded.signatures[signature]
    args, kwargs = fn.structured_input_signature
    if args or len(kwargs) != 1:
        raise Refusal(f"signature {signature} takes {len(args) + len(kwargs)} inputs "
                      f"({', '.join(kwargs)}); saliency explains one image batch")
    (in_key, spec), = kwargs.items()
    shape = tuple(spec.shape.as_list()) if spec.shape.rank is not None else ()
    if len(shape) != 4 or shape[3] not in (3, None):
        raise Refusal(f"signature {signature} input {in_key!r} is {shape}; want [N, H, W, 3]")
    if not spec.dtype.is_floating:
        raise Refusal(f"signature {signature} input {in_key!r} is {spec.dtype.name}; "
                      "gradients need a float input")
    outs = fn.structured_outputs
    if not isinstance(outs, dict):
        raise Refusal(f"signature {signature}: outputs are not named")
    if output is None:
        if len(outs) != 1:
            raise Refusal(f"signature {signature} has {len(outs)} outputs ({', '.join(outs)}): "
                          "choose one with --output")
        output = next(iter(outs))
    elif output not in outs:
        raise Refusal(f"--output {output}: signature {signature} has {', '.join(outs)}")
    if outs[output].shape.rank != 2:
        raise Refusal(f"signature {signature} output {output!r} is {outs[output].shape}; "
                      "want [N, classes]")
    h, w = resolve_size(shape[1:3], size, f"signature {signature}'s")
    pre = preprocess or (lambda x: x)

    def call(images):
        return tf.cast(fn(**{in_key: tf.cast(pre(images), spec.dtype)})[output], tf.float32)

    x = check_images(h, w)
    given = call(x).numpy()
    classes = given.shape[1]
    if classes < 2:
        raise Refusal(f"signature {signature} output {output!r} has {classes} class; want >= 2")
    order = tf.nest.flatten({k: k for k in outs})
    last = graph_output_op(fn, order.index(output))
    log, checks = False, [("exported logits vs the SavedModel", given, None)]
    if last == "LogSoftmax":
        kind, text = "log_probabilities", f"The output is made by a LogSoftmax op: {LOG_PROB_NOTE}."
        note(f"warning: the SavedModel outputs log-probabilities (LogSoftmax); {LOG_PROB_NOTE}")
    elif last == "Softmax" or looks_like_probabilities(given):
        seen = "a Softmax op ends its graph" if last == "Softmax" else "its rows sum to 1"
        note(f"warning: the SavedModel outputs probabilities ({seen}): exporting "
             f"log-probabilities log(max(p, tiny)); {LOG_PROB_NOTE}")
        log, kind = True, "log_probabilities"
        text = f"The output is probabilities ({seen}); the export gives log(max(p, tiny)): {LOG_PROB_NOTE}."
        checks = [("softmax of the exported log-probabilities vs the SavedModel's probabilities",
                   given, "softmax")]
    else:
        kind, text = "logits", f"The output is made by a {last or 'hidden'} op and is taken as logits."
    tiny = np.finfo(np.float32).tiny

    def logits(images):
        y = call(images)
        return tf.math.log(tf.maximum(y, tiny)) if log else y

    reason = "a SavedModel's layers are not reachable"
    note(f"Grad-CAM and FullGrad unavailable for --savedmodel ({reason}): no gradcam or fullgrad signature")
    return Net(height=h, width=w, classes=classes, logits=logits, checks=checks, check_images=x,
               track=[loaded], input_key=in_key, output_key=output, cam_unavailable=reason,
               biased_unavailable=reason,
               output={"kind": kind, "softmax_removed": False, "note": text})


# ---------------------------------------------------------------- FullGrad's biases

class Biased:
    """The biases of a Keras classifier that FullGrad (Srinivas & Fleuret 2019,
    "Full-Gradient Representation for Neural Network Visualization") attributes:
    every call of a layer that adds a bias, with its effective bias b_l, the way
    the authors' tensor_extractor.py (FullGradExtractor) collects them from
    nn.Conv2d, nn.Linear and nn.BatchNorm2d:

    - Conv1D/2D/3D, SeparableConv1D/2D, DepthwiseConv1D/2D, Conv1D/2D/3DTranspose
      and Dense with use_bias: their bias, per output channel; z_l is the layer's
      output before its activation (the layer is run with its activation set
      aside, which is then applied to z_l: VGG16's ReLU convolutions,
      EfficientNet's squeeze-and-excitation convolutions);
    - BatchNormalization at inference: beta - gamma * moving_mean /
      sqrt(moving_variance + epsilon), the layer's own epsilon, gamma 1 without
      scale and beta 0 without center (their _extract_layer_bias); z_l its output.

    forward(xt) runs the model on its preprocessed input xt op by op (Keras'
    Function._run_through_graph, walking into nested models) and returns its
    scores and [(z_l, b_l)], b_l a float32 vector along z_l's last axis; layers
    holds one {"layer", "class", "spatial"} per call, in the order the graph
    runs them (spatial: z_l is 4-D, so the bias gradient is a map, the authors'
    len(bias_grad.size()) == len(im_size)).

    exact says the full-gradient decomposition
        score = sum(d score / d xt * xt) + sum_l sum(d score / d z_l * b_l)
    holds exactly: every other operation met is piecewise linear without a bias
    of its own (ReLU, pooling, add, concatenation, reshapes, dropout at
    inference...), every fused activation is linear or ReLU, and the scores are
    not log-probabilities; not_exact lists what breaks it (EfficientNet's swish,
    ConvNeXt's LayerNormalization and GELU, MobileNetV2's ReLU6, a Rescaling
    with an offset: none of these is decomposed; their implicit biases are left
    out, as the authors' code leaves out everything but its three layer kinds)."""

    def __init__(self, forward, layers, not_exact):
        self.forward, self.layers, self.not_exact = forward, layers, not_exact
        self.exact = not not_exact


def _fullgrad_layer_kinds():
    """(biased layer classes, classes that keep the decomposition exact)."""
    from keras import layers as L

    biased = (L.Conv1D, L.Conv2D, L.Conv3D, L.SeparableConv1D, L.SeparableConv2D,
              L.DepthwiseConv1D, L.DepthwiseConv2D, L.Conv1DTranspose, L.Conv2DTranspose,
              L.Conv3DTranspose, L.Dense)
    linear = (L.InputLayer, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D,
              L.AveragePooling2D, L.AveragePooling3D, L.GlobalMaxPooling1D, L.GlobalMaxPooling2D,
              L.GlobalMaxPooling3D, L.GlobalAveragePooling1D, L.GlobalAveragePooling2D,
              L.GlobalAveragePooling3D, L.Add, L.Subtract, L.Average, L.Maximum, L.Minimum,
              L.Concatenate, L.Flatten, L.Reshape, L.Permute, L.RepeatVector, L.Dropout,
              L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D, L.GaussianDropout,
              L.GaussianNoise, L.AlphaDropout, L.ActivityRegularization, L.ZeroPadding1D,
              L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D,
              L.UpSampling1D, L.UpSampling2D, L.UpSampling3D, L.Identity, L.LeakyReLU, L.PReLU)
    return biased, linear


# Activations that keep the decomposition exact: piecewise linear through 0
# (keras.activations.relu with its defaults: no threshold, no ceiling).
_HOMOGENEOUS = ("linear", "relu", "leaky_relu")


def _breaks(op, biased, linear):
    """Why op breaks the full-gradient decomposition, or None."""
    from keras import layers as L

    cls = type(op).__name__
    act = getattr(getattr(op, "activation", None), "__name__", "linear")
    if isinstance(op, biased + (L.BatchNormalization, L.Activation)):
        return None if act in _HOMOGENEOUS else f"{cls} with activation {act}"
    if isinstance(op, L.ReLU):
        return None if op.max_value is None and not op.threshold else f"ReLU(max_value={op.max_value}, threshold={op.threshold})"
    if isinstance(op, L.Rescaling):
        offset = op.offset if isinstance(op.offset, (int, float)) else None
        return None if offset == 0 else "Rescaling with an offset"
    if isinstance(op, linear):
        return None
    return cls if isinstance(op, L.Layer) else f"keras.ops {cls}"


def _last_axis(op, rank):
    """Whether a biased op adds its bias along the last axis of its rank-D output."""
    from keras import layers as L

    if isinstance(op, L.BatchNormalization):
        return op.axis in (-1, rank - 1)
    return getattr(op, "data_format", "channels_last") == "channels_last"


def _effective_bias(op):
    """The layer's bias, float32, along its output's last axis (BatchNormalization:
    beta - gamma * moving_mean / sqrt(moving_variance + epsilon))."""
    import tensorflow as tf
    from keras import layers as L

    f32 = lambda v: tf.cast(v, tf.float32)
    if not isinstance(op, L.BatchNormalization):
        return f32(op.bias)
    gamma = f32(op.gamma) if op.scale else 1.0
    beta = f32(op.beta) if op.center else 0.0
    return beta - gamma * f32(op.moving_mean) / tf.sqrt(f32(op.moving_variance) + op.epsilon)


def _inference(op, args, kwargs):
    """op called at inference (training=False where its call takes it)."""
    if getattr(op, "_call_has_training_arg", False):
        kwargs = dict(kwargs, training=False)
    return op(*args, **kwargs)


def _graph_of(model):
    """The Functional graph behind a model (a built Sequential's own), or None."""
    import keras

    inner = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    return inner if hasattr(inner, "_run_through_graph") and getattr(inner, "_nodes_by_depth", None) else None


def decompose(model, xt, finish=lambda y: y):
    """Runs model on xt recording its biased layers: (finish(output), [(z_l, b_l)],
    [the layers' {"layer", "class", "spatial"}], [why the decomposition is not
    exact]). Called inside a GradientTape, d output / d z_l is then at hand."""
    import keras
    from keras import layers as L

    biased, linear = _fullgrad_layer_kinds()
    parts, layers, breaks = [], [], []

    def visit(op):
        if isinstance(op, keras.Model):
            graph = _graph_of(op)
            if graph is None:
                breaks.append(f"nested model {op.name!r} without a functional graph")
                return lambda *a, **kw: _inference(op, a, kw)
            return lambda *a, **kw: run(graph, a[0] if len(a) == 1 else list(a))
        why = _breaks(op, biased, linear)
        if why:
            breaks.append(why)
        counted = isinstance(op, L.BatchNormalization) or (isinstance(op, biased) and op.use_bias)
        if not counted:
            return lambda *a, **kw: _inference(op, a, kw)

        def call(*args, **kwargs):
            act = getattr(op, "activation", None)
            fused = act is not None and getattr(act, "__name__", "") != "linear"
            if fused:   # z_l is before the activation, where the bias is added
                op.activation = None
            try:
                z = _inference(op, args, kwargs)
            finally:
                if fused:
                    op.activation = act
            rank = len(z.shape)
            if _last_axis(op, rank):
                parts.append((z, _effective_bias(op)))
                layers.append({"layer": op.name, "class": type(op).__name__, "spatial": rank == 4})
            else:
                breaks.append(f"{type(op).__name__} {op.name!r} with its channels first")
            return act(z) if fused else z
        return call

    def run(graph, inputs):
        out = graph._run_through_graph(inputs, operation_fn=visit)
        return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out

    y = finish(run(_graph_of(model), xt))
    return y, parts, layers, sorted(set(breaks))


def biased_net(head, xt, want, finish, log):
    """(Biased, None) for FullGrad on head, or (None, why not). xt: preprocessed
    check images; want: head's scores on them, which the walked graph must give."""
    import numpy as np

    if _graph_of(head) is None:
        return None, "the model has no functional graph to walk"
    try:
        y, parts, layers, breaks = decompose(head, xt, finish)
    except Exception as e:  # a layer that cannot be called on its own
        return None, f"its layers cannot be walked one by one: {first_line(e)}"
    if not parts:
        return None, "the model has no biased layer (no convolution or Dense with a bias, no BatchNormalization)"
    y = np.asarray(y, np.float64)
    if y.shape != want.shape or not np.abs(y - want).max() <= 1e-4 * np.abs(want).max():
        return None, "walking its layers one by one does not give the model's outputs"
    if log:
        breaks = sorted(set(breaks) | {"the scores are log-probabilities"})

    def forward(images_pre):
        out, parts, _, _ = decompose(head, images_pre, finish)
        return out, parts

    return Biased(forward, layers, breaks), None
