"""The operators the engine runs: builtin operator name -> its lowering to C (a Kernel).

An operator missing here, or an option its lowering does not handle, is a ModelError naming
it, with the hint to use the TFLM engine."""

from edgecxr.engine.kernels import conv, elementwise, pool
from edgecxr.engine.kernels.base import TFLM_HINT, Kernel, unsupported

OPS = {
    "CONV_2D": conv.conv2d,
    "DEPTHWISE_CONV_2D": conv.depthwise,
    "FULLY_CONNECTED": conv.fully_connected,
    "MAX_POOL_2D": pool.max_pool,
    "AVERAGE_POOL_2D": pool.average_pool,
    "MEAN": pool.mean,
    "ADD": elementwise.add,
    "MUL": elementwise.mul,
    "RESHAPE": elementwise.reshape,
    "LOGISTIC": elementwise.logistic,
    "SOFTMAX": elementwise.softmax,
    "RELU": elementwise.relu,
    "RELU6": elementwise.relu6,
    "RELU_N1_TO_1": elementwise.relu_n1_to_1,
}

__all__ = ["OPS", "Kernel", "TFLM_HINT", "unsupported"]
