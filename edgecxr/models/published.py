"""The CNNs that published chest X-ray papers describe, rebuilt so they can be trained and
compared on the same data.

Each paper puts the activation *before* batch-norm (``Conv(relu) -> BN``). That order cannot be
folded into the convolution: int8 graphs keep extra MUL/ADD ops and tfmot's QAT refuses it.
So every builder takes ``bn_order``:

    "paper"     the order the paper describes (reproduces its numbers; float only, or PTQ
                with the unfolded BN ops)
    "foldable"  Conv(linear) -> BN -> ReLU: the same parameters, folds, QAT works

Parameter counts do not depend on the order (the conv keeps its bias in both).
"""

from __future__ import annotations

BN_ORDERS = ("paper", "foldable")


def _block(L, x, filters: int, bn_order: str, name: str, *, pool_first: bool = False, dropout: float = 0.0,
           l2: float = 0.0, pool_padding: str = "valid"):
    """One conv block; ``pool_first`` puts the max-pool between conv and BN (Abdelaal)."""
    from edgecxr.tfenv import keras

    reg = keras().regularizers.l2(l2) if l2 else None
    pool = L.MaxPooling2D(2, padding=pool_padding, name=f"{name}_pool")
    if bn_order == "paper":
        x = L.Conv2D(filters, 3, padding="same", activation="relu", kernel_regularizer=reg, name=f"{name}_conv")(x)
        if pool_first:
            x = pool(x)
        if dropout:
            x = L.Dropout(dropout, name=f"{name}_dropout")(x)
        x = L.BatchNormalization(name=f"{name}_bn")(x)
        return x if pool_first else pool(x)
    x = L.Conv2D(filters, 3, padding="same", kernel_regularizer=reg, name=f"{name}_conv")(x)
    x = L.BatchNormalization(name=f"{name}_bn")(x)
    x = L.ReLU(name=f"{name}_relu")(x)
    if dropout:
        x = L.Dropout(dropout, name=f"{name}_dropout")(x)
    return pool(x)


def _dense_head(L, x, widths, dropouts, units: int, activation: str, l2: float = 0.0):
    from edgecxr.tfenv import keras

    reg = keras().regularizers.l2(l2) if l2 else None
    for i, (width, rate) in enumerate(zip(widths, dropouts), start=1):
        x = L.Dense(width, activation="relu", kernel_regularizer=reg, name=f"dense{i}")(x)
        if rate:
            x = L.Dropout(rate, name=f"dense{i}_dropout")(x)
    return L.Dense(units, activation=activation, name="output")(x)


# Huynh et al.: (filters, dropout after the conv) per block; the published counts are the spec
HUYNH_BLOCKS = {
    5: [(32, 0.0), (64, 0.1), (64, 0.0), (128, 0.2), (256, 0.2)],  # 1,246,401 parameters
    4: [(32, 0.0), (64, 0.1), (128, 0.2), (256, 0.2)],  # 3,666,817
    3: [(64, 0.1), (128, 0.2), (256, 0.2)],  # 12,200,961
}


def huynh_cnn(input_shape, units: int, activation: str, blocks: int = 5, bn_order: str = "paper", **_):
    """Huynh et al., "A Convolutional Neural Network on X-Ray Images for Pneumonia Diagnosis":
    5, 4 or 3 blocks of 3x3 conv (same padding, ReLU) -> [dropout] -> BN -> 2x2 max-pool
    (same padding), flatten, Dense(128, ReLU) -> dropout 0.2 -> sigmoid, at 150x150x1.
    With a one-unit output these give exactly the published 1,246,401 / 3,666,817 /
    12,200,961 parameters."""
    from edgecxr.tfenv import keras

    L = keras().layers
    inputs = keras().Input(input_shape, name="input")
    x = inputs
    for i, (filters, rate) in enumerate(HUYNH_BLOCKS[blocks], start=1):
        x = _block(L, x, filters, bn_order, f"block{i}", dropout=rate, pool_padding="same")
    x = L.Flatten(name="flatten")(x)
    outputs = _dense_head(L, x, [128], [0.2], units, activation)
    return keras().Model(inputs, outputs, name=f"huynh_cnn{blocks}_{bn_order}")


def abdelaal_cnn(input_shape, units: int, activation: str, bn_order: str = "paper", **_):
    """Abdelaal, "A classifier model for X-ray image based on deep learning technique"
    (91.99 % on the 624-image Kermany test split): five blocks of conv -> max-pool -> BN,
    flatten, four dense layers with dropout, sigmoid output. The paper's text fixes the
    structure, not every width: filters 32-64-128-128-256 and dense 256-128-64 (+ the output)
    are this reproduction's choice."""
    from edgecxr.tfenv import keras

    L = keras().layers
    inputs = keras().Input(input_shape, name="input")
    x = inputs
    for i, filters in enumerate((32, 64, 128, 128, 256), start=1):
        x = _block(L, x, filters, bn_order, f"block{i}", pool_first=True)
    x = L.Flatten(name="flatten")(x)
    outputs = _dense_head(L, x, [256, 128, 64], [0.5, 0.3, 0.2], units, activation)
    return keras().Model(inputs, outputs, name=f"abdelaal_cnn_{bn_order}")


KIRTHAN_L2 = 1e-4


def kirthan_cnn(input_shape, units: int, activation: str, bn_order: str = "paper", **_):
    """Kirthan, "Medical Image Analysis (Image Classification for Detection)": a 128x128 CNN
    with dropout, batch-norm and L2 weight regularization, trained with learning-rate decay
    (the trainer's decay-on-plateau). Widths (conv 32-64-128, dense 128) are this
    reproduction's choice where the paper gives none."""
    from edgecxr.tfenv import keras

    L = keras().layers
    inputs = keras().Input(input_shape, name="input")
    x = inputs
    for i, filters in enumerate((32, 64, 128), start=1):
        x = _block(L, x, filters, bn_order, f"block{i}", dropout=0.25, l2=KIRTHAN_L2)
    x = L.Flatten(name="flatten")(x)
    outputs = _dense_head(L, x, [128], [0.5], units, activation, l2=KIRTHAN_L2)
    return keras().Model(inputs, outputs, name=f"kirthan_cnn_{bn_order}")


def mondal_xception(input_shape, units: int, activation: str, **_):
    """Mondal et al.: Xception (Chollet, 2017) trained from scratch at 128x128x1, global
    average pooling, a two-layer MLP head (Dense 256 ReLU, dropout 0.3, output), multi-label
    sigmoid over the 14 NIH ChestX-ray14 findings. Xception's own order is conv -> BN -> ReLU,
    so it folds as it is. The backbone's layers are attached to our input directly (one flat
    graph, which QAT needs)."""
    from edgecxr.tfenv import keras

    k = keras()
    inputs = k.Input(input_shape, name="input")
    base = k.applications.Xception(include_top=False, weights=None, input_tensor=inputs, pooling="avg")
    x = k.layers.Dense(256, activation="relu", name="mlp_dense")(base.output)
    x = k.layers.Dropout(0.3, name="mlp_dropout")(x)
    outputs = k.layers.Dense(units, activation=activation, name="output")(x)
    return k.Model(inputs, outputs, name="mondal_xception")
