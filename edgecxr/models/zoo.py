"""The model table: name -> how to build it, its default input, its head, its paper.

``MODELS`` drives everything: ``edgecxr train --model`` choices and "did you mean", the
``edgecxr models`` listing, the tests that build and fold every entry, and the benchmarks.
Adding a model is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from edgecxr.checks import lookup
from edgecxr.errors import ConfigError, ModelError
from edgecxr.models import mobilenet, published
from edgecxr.tflite_facts import op_macs


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable  # (input_shape, units, activation, **options) -> tf_keras.Model
    input_shape: tuple[int, int, int]  # default (H, W, C)
    head: str  # "softmax" (one unit per class) or "sigmoid" (one unit for binary, K for multi-label)
    default_task: str  # what the paper trains it for
    citation: str
    foldable: bool  # every BN directly follows a linear conv: folds into it, QAT works
    min_size: int  # smallest input side the architecture takes
    default_classes: int = 2
    options: dict = field(default_factory=dict)  # fixed builder options of this row

    def build(self, input_shape, units: int, activation: str, **options):
        return self.builder(tuple(input_shape), units, activation, **{**self.options, **options})


_HUYNH = "Huynh et al., \"A Convolutional Neural Network on X-Ray Images for Pneumonia Diagnosis\""
_ABDELAAL = "Abdelaal, \"A classifier model for X-ray image based on deep learning technique\""
_KIRTHAN = "Kirthan, \"Medical Image Analysis (Image Classification for Detection)\""
_MONDAL = "Mondal et al., Xception from scratch on NIH ChestX-ray14 (14 findings, multi-label)"
_SI = "Si, \"Using Deep Learning Neural Networks To Classify X-Ray Images\" (Edge Impulse); Howard et al. 2017"


def _published_rows() -> list[ModelEntry]:
    """Each published CNN twice: the paper's layer order and the foldable one."""
    base = [
        ("huynh_cnn5", partial(published.huynh_cnn, blocks=5), (150, 150, 1), _HUYNH, 1),
        ("huynh_cnn4", partial(published.huynh_cnn, blocks=4), (150, 150, 1), _HUYNH, 1),
        ("huynh_cnn3", partial(published.huynh_cnn, blocks=3), (150, 150, 1), _HUYNH, 1),
        ("abdelaal_cnn", published.abdelaal_cnn, (150, 150, 1), _ABDELAAL, 32),
        ("kirthan_cnn", published.kirthan_cnn, (128, 128, 1), _KIRTHAN, 8),
    ]
    rows = []
    for name, builder, shape, citation, min_size in base:
        for suffix, order in (("", "paper"), ("_foldable", "foldable")):
            rows.append(ModelEntry(name + suffix, builder, shape, "sigmoid", "binary", citation,
                                   foldable=order == "foldable", min_size=min_size,
                                   options={"bn_order": order}))
    return rows


MODELS: dict[str, ModelEntry] = {e.name: e for e in [
    ModelEntry("mobilenet_v1", mobilenet.mobilenet_v1, (96, 96, 1), "softmax", "binary", _SI,
               foldable=True, min_size=mobilenet.MIN_SIZE),
    *_published_rows(),
    ModelEntry("mondal_xception", published.mondal_xception, (128, 128, 1), "sigmoid", "multilabel", _MONDAL,
               foldable=True, min_size=71, default_classes=14),
]}


def get_entry(name: str) -> ModelEntry:
    return lookup(MODELS, name, "model", hint=" (see `edgecxr models`)")


def output_head(entry: ModelEntry, task: str, n_classes: int) -> tuple[int, str]:
    """(units, activation) of the output layer for ``task`` over ``n_classes`` labels."""
    if task == "multilabel":
        return n_classes, "sigmoid"
    if task == "binary" and entry.head == "sigmoid":
        return 1, "sigmoid"
    return n_classes, "softmax"


def build_model(name: str, task: str, n_classes: int, size: int | None = None, channels: int | None = None,
                alpha: float = 0.25, dropout: float = 0.1):
    """Build ``name`` for ``task``; ``size``/``channels`` default to the entry's input."""
    entry = get_entry(name)
    shape = input_shape_for(entry, size, channels)
    if name == "mobilenet_v1" and alpha not in mobilenet.ALPHAS:
        raise ConfigError(f"mobilenet_v1 alpha {alpha:g} is not one of {', '.join(f'{a:g}' for a in mobilenet.ALPHAS)}",
                          "pass --alpha with one of those values")
    units, activation = output_head(entry, task, n_classes)
    return entry.build(shape, units, activation, alpha=alpha, dropout=dropout)


def input_shape_for(entry: ModelEntry, size: int | None, channels: int | None) -> tuple[int, int, int]:
    h, w, c = entry.input_shape
    if size is not None:
        if size < entry.min_size:
            raise ConfigError(f"model {entry.name} cannot take {size}x{size} input (smallest is "
                              f"{entry.min_size}x{entry.min_size})", f"pass --size {entry.min_size} or larger")
        h = w = size
    if channels is not None:
        if channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, not {channels}", "use 1 (gray) or 3")
        c = channels
    return (h, w, c)


# ---------------------------------------------------------------------------------------------
# What a model costs
# ---------------------------------------------------------------------------------------------
def count_params(model) -> int:
    return int(model.count_params())


def count_macs(model) -> int:
    """Multiply-accumulates of one inference, counted by the .tflite rule (tflite_facts.op_macs)
    on the TFLite operators each layer converts to, so the model table and `bench` agree."""
    return sum(op_macs(op, out, weights) for layer in model.layers if type(layer).__name__ in _AS_TFLITE_OPS
               for op, out, weights in _AS_TFLITE_OPS[type(layer).__name__](layer))


def _ohwi(kernel_shape) -> tuple:  # a Keras (Kh, Kw, Cin, Cout) kernel in TFLite's (Cout, Kh, Kw, Cin) layout
    kh, kw, cin, cout = kernel_shape
    return (cout, kh, kw, cin)


def _depthwise(layer, out_shape) -> tuple:
    kh, kw, cin, mult = layer.depthwise_kernel.shape
    return "DEPTHWISE_CONV_2D", (*out_shape[:-1], cin * mult), (1, kh, kw, cin * mult)


# Keras layer -> [(TFLite operator, output shape, weight shape in TFLite's layout)]; a separable
# conv is a depthwise conv followed by a 1x1 conv
_AS_TFLITE_OPS = {
    "Conv2D": lambda l: [("CONV_2D", l.output_shape, _ohwi(l.kernel.shape))],
    "DepthwiseConv2D": lambda l: [_depthwise(l, l.output_shape)],
    "SeparableConv2D": lambda l: [_depthwise(l, l.output_shape), ("CONV_2D", l.output_shape, _ohwi(l.pointwise_kernel.shape))],
    "Dense": lambda l: [("FULLY_CONNECTED", l.output_shape, tuple(reversed(l.kernel.shape)))],
}


def int8_size_estimate(model) -> int:
    """Bytes of the int8 .tflite: int8 weights, int32 biases, per-channel scales, ops.

    BN folds into the preceding conv (its 4 vectors become one int32 bias). The constants are
    a least-squares fit to five int8 conversions here (MobileNetV1 0.1/0.25/1.0, two CNNs;
    0.2-1.5 % off, except ~1 KB on files under 100 KB).
    """
    weights = biases = 0
    layers = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _AS_TFLITE_OPS:
            layers += 1
            for w in layer.weights:
                n = int(w.shape.num_elements())
                if "bias" in w.name:
                    biases += n
                else:
                    weights += n
            out_ch = int(layer.output_shape[-1])
            biases += 0 if layer.use_bias else out_ch
    # per output channel: int32 bias + the per-channel scales/zero points of weight and bias
    return int(weights + biases * 25 + layers * 500 + 1300)


def is_foldable(model) -> bool:
    """True when every BatchNormalization directly follows a conv/dense without activation."""
    linear_kinds = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        inbound = layer._inbound_nodes[0].inbound_layers
        prev = inbound[0] if isinstance(inbound, list) else inbound
        act = getattr(getattr(prev, "activation", None), "__name__", None)
        if type(prev).__name__ not in linear_kinds or act not in (None, "linear"):
            return False
    return True


def describe(name: str) -> dict:
    """One row of `edgecxr models`: the entry at its default input, built to count it."""
    entry = get_entry(name)
    model = build_model(name, entry.default_task, entry.default_classes)
    units, activation = output_head(entry, entry.default_task, entry.default_classes)
    return {"name": name, "input": "x".join(map(str, entry.input_shape)), "output": f"{activation}({units})",
            "params": count_params(model), "macs": count_macs(model), "int8_kb": round(int8_size_estimate(model) / 1024),
            "foldable": entry.foldable, "paper": entry.citation}


# ---------------------------------------------------------------------------------------------
# Pretrained weights
# ---------------------------------------------------------------------------------------------
def load_backbone_weights(model, path: str | Path) -> dict:
    """Copy weights from ``path`` (.h5 weights or model, .keras model) into ``model`` by layer
    name; layers whose shapes differ are skipped and reported. Returns {loaded, skipped, absent}."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"weights file {path} not found", "pass --weights with a .h5 or .keras file")
    source = _read_weights(path)
    report = {"loaded": [], "skipped": [], "absent": []}
    for layer in model.layers:
        if not layer.weights:
            continue
        arrays = source.get(layer.name)
        if arrays is None:
            report["absent"].append(layer.name)
        elif [tuple(a.shape) for a in arrays] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(arrays)
            report["loaded"].append(layer.name)
        else:
            report["skipped"].append(f"{layer.name} (file {[tuple(a.shape) for a in arrays]}, "
                                     f"model {[tuple(w.shape) for w in layer.weights]})")
    if not report["loaded"]:
        raise ModelError(f"{path}: no layer name and shape matches the model {model.name}",
                         "pass weights of the same architecture (layer names as keras.applications uses)")
    return report


def _read_weights(path: Path) -> dict[str, list]:
    if path.suffix == ".keras":
        from edgecxr.tfenv import keras

        try:
            src = keras().models.load_model(path, compile=False)
        except Exception as e:  # noqa: BLE001 -- any load failure is the file's fault here
            raise ModelError(f"{path}: cannot load ({type(e).__name__}: {e})", "pass a tf_keras .keras model") from None
        return {layer.name: layer.get_weights() for layer in src.layers if layer.weights}
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f.get("model_weights", f)  # a whole saved model, or weights only
            out = {}
            for name in group.attrs["layer_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                g = group[name]
                names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
                if names:
                    out[name] = [g[n][()] for n in names]
            return out
    except (OSError, KeyError) as e:
        raise ModelError(f"{path}: not a Keras .h5 weights file ({e})", "pass a .h5 or .keras file") from None
