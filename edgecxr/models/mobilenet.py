"""MobileNetV1 (Howard et al., 2017, arXiv:1704.04861) with the Edge Impulse classifier head.

Built as ONE flat functional graph (no nested model) with every convolution followed by
batch-norm and then ReLU6, and no conv bias: tfmot's quantization-aware training accepts it
and the converter folds each BN into its conv, so the int8 graph is CONV/DEPTHWISE only.
Layer names are those of ``keras.applications.MobileNet``, so ImageNet or any other MobileNet
weights load by name (``--weights``). Stride-2 layers use ``padding="same"`` instead of Keras'
ZeroPadding2D + "valid": same weights, one op fewer on the device.
"""

from __future__ import annotations

ALPHAS = (0.1, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0)
# (pointwise filters at alpha 1, depthwise stride) of the 13 depthwise-separable blocks
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
MIN_SIZE = 32  # five stride-2 steps: 32x32 -> 1x1


def mobilenet_v1(input_shape, units: int, activation: str, alpha: float = 0.25, dropout: float = 0.1, **_):
    """MobileNetV1 backbone -> Dropout -> Flatten -> Dense(units, activation), as Edge Impulse
    builds its transfer-learning image block."""
    from edgecxr.tfenv import keras

    L = keras().layers
    inputs = keras().Input(input_shape, name="input")

    def conv_bn_relu6(x, layer, name):
        x = layer(x)
        x = L.BatchNormalization(name=f"{name}_bn")(x)
        return L.ReLU(6.0, name=f"{name}_relu")(x)

    x = conv_bn_relu6(inputs, L.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False,
                                       name="conv1"), "conv1")
    for i, (filters, stride) in enumerate(BLOCKS, start=1):
        x = conv_bn_relu6(x, L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                               name=f"conv_dw_{i}"), f"conv_dw_{i}")
        x = conv_bn_relu6(x, L.Conv2D(int(filters * alpha), 1, use_bias=False, name=f"conv_pw_{i}"),
                          f"conv_pw_{i}")
    x = L.Dropout(dropout, name="head_dropout")(x)
    x = L.Flatten(name="head_flatten")(x)
    outputs = L.Dense(units, activation=activation, name="head_dense")(x)
    return keras().Model(inputs, outputs, name=f"mobilenet_v1_{alpha:g}")
