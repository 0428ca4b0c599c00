"""Data augmentation as TensorFlow ops on whole batches (fast: no per-image Python).

``AUGMENTATIONS`` is the table: name -> (is it on for this config?, batch op). The trainer
applies every enabled entry in order to float batches in [0, 1]; a new augmentation is a new
row plus the config field that switches it. Every op is a stateless random op fed an explicit
seed (one per batch, from a seeded stream), so batches can be augmented in parallel and a run
with the same seed still sees exactly the same augmented images.
"""

from __future__ import annotations

from collections.abc import Callable

from edgecxr.config import TrainConfig


def random_flip(x, config: TrainConfig, seed):
    """Mirror left-right with probability 1/2 (a chest film flipped is still a chest film)."""
    from edgecxr.tfenv import tf

    t = tf()
    flip = t.random.stateless_uniform([t.shape(x)[0], 1, 1, 1], seed) < 0.5
    return t.where(flip, t.reverse(x, axis=[2]), x)


def random_zoom_crop(x, config: TrainConfig, seed):
    """Crop a random window of 1/z of the side (z uniform in [1, zoom_max]) and scale it back
    up: Edge Impulse's random 1.0-1.2x zoom. Bilinear resampling of an axis-aligned window is
    separable, so it is two small matrix products per image (no CropAndResize, which TF's
    cost model warns about on every epoch)."""
    from edgecxr.tfenv import tf

    t = tf()
    n = t.shape(x)[0]
    zoom, top, left, aspect = t.unstack(t.random.stateless_uniform([4, n], seed))
    side = 1.0 / (1.0 + zoom * (config.zoom_max - 1.0))
    # aspect: one side's window shrinks by up to that fraction more (films squashed differently)
    tall = 1.0 - (2.0 * aspect - 1.0) * config.aspect
    side_h, side_w = side * t.minimum(tall, 1.0), side * t.minimum(2.0 - tall, 1.0)
    rows = _bilinear_matrix(top * (1.0 - side_h), side_h, x.shape[1])
    cols = _bilinear_matrix(left * (1.0 - side_w), side_w, x.shape[2])
    return t.einsum("bih,bhwc,bjw->bijc", rows, x, cols)


def _bilinear_matrix(start, side, size: int):
    """(batch, size, size) weights: output pixel i samples the window [start, start + side)
    (fractions of the image) at its centre, with linear interpolation."""
    from edgecxr.tfenv import tf

    t = tf()
    centres = (t.range(size, dtype=t.float32) + 0.5) / size
    source = (start[:, None] + side[:, None] * centres[None, :]) * size - 0.5
    source = t.clip_by_value(source, 0.0, size - 1.0)
    pixels = t.range(size, dtype=t.float32)
    return t.nn.relu(1.0 - t.abs(source[:, :, None] - pixels[None, None, :]))


def random_brightness(x, config: TrainConfig, seed):
    """Add one random offset in [-brightness, +brightness] per image, clipped to [0, 1]."""
    from edgecxr.tfenv import tf

    t = tf()
    delta = t.random.stateless_uniform([t.shape(x)[0], 1, 1, 1], seed, -config.brightness, config.brightness)
    return t.clip_by_value(x + delta, 0.0, 1.0)


def random_rotate_shift(x, config: TrainConfig, seed):
    """Rotate by up to ``rotation`` degrees and translate by up to ``shift`` of the side, in one
    bilinear projective warp per image (borders repeat the edge pixels: a patient positioned a
    little off-centre, not a black wedge the model could learn)."""
    import math

    from edgecxr.tfenv import tf

    t = tf()
    n = t.shape(x)[0]
    h, w = float(x.shape[1]), float(x.shape[2])
    u = t.random.stateless_uniform([3, n], seed, -1.0, 1.0)
    angle = u[0] * (config.rotation * math.pi / 180.0)
    dx, dy = u[1] * config.shift * w, u[2] * config.shift * h
    cos, sin = t.cos(angle), t.sin(angle)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    # output (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2): rotation about the centre
    a2 = cx - cos * cx + sin * cy - dx
    b2 = cy - sin * cx - cos * cy - dy
    zeros = t.zeros_like(angle)
    transforms = t.stack([cos, -sin, a2, sin, cos, b2, zeros, zeros], axis=1)
    return t.raw_ops.ImageProjectiveTransformV3(images=x, transforms=transforms,
                                                output_shape=t.shape(x)[1:3], fill_value=0.0,
                                                interpolation="BILINEAR", fill_mode="NEAREST")


def random_contrast(x, config: TrainConfig, seed):
    """Scale each image's deviation from its mean by a factor in [1 - contrast, 1 + contrast]."""
    from edgecxr.tfenv import tf

    t = tf()
    factor = t.random.stateless_uniform([t.shape(x)[0], 1, 1, 1], seed, 1.0 - config.contrast, 1.0 + config.contrast)
    mean = t.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return t.clip_by_value((x - mean) * factor + mean, 0.0, 1.0)


def random_gamma(x, config: TrainConfig, seed):
    """x ** g with log g uniform in [-log(1 + gamma), +log(1 + gamma)]: another film's gray curve."""
    import math

    from edgecxr.tfenv import tf

    t = tf()
    bound = math.log1p(config.gamma)
    g = t.exp(t.random.stateless_uniform([t.shape(x)[0], 1, 1, 1], seed, -bound, bound))
    return t.pow(t.clip_by_value(x, 1e-6, 1.0), g)


def random_sharpness(x, config: TrainConfig, seed):
    """x + a (x - blur(x)), a uniform in [-sharpness, +sharpness]: a < 0 blurs (a film
    resampled from a smaller original), a > 0 sharpens (a scanner's edge enhancement)."""
    from edgecxr.tfenv import tf

    t = tf()
    kernel = t.constant([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    channels = x.shape[3]
    kernel = t.tile(kernel[:, :, None, None], [1, 1, channels, 1])
    padded = t.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    blurred = t.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")
    amount = t.random.stateless_uniform([t.shape(x)[0], 1, 1, 1], seed, -config.sharpness, config.sharpness)
    return t.clip_by_value(x + amount * (x - blurred), 0.0, 1.0)


def random_noise(x, config: TrainConfig, seed):
    """Gaussian pixel noise of a random level up to ``noise`` (a noisier detector)."""
    from edgecxr.tfenv import tf

    t = tf()
    s1, s2 = t.unstack(t.random.experimental.stateless_split(seed, 2))
    level = t.random.stateless_uniform([t.shape(x)[0], 1, 1, 1], s1, 0.0, config.noise)
    return t.clip_by_value(x + level * t.random.stateless_normal(t.shape(x), s2), 0.0, 1.0)


AUGMENTATIONS: dict[str, tuple[Callable[[TrainConfig], bool], Callable]] = {
    "flip": (lambda c: c.flip, random_flip),
    "zoom_crop": (lambda c: c.zoom_max > 1.0 or c.aspect > 0.0, random_zoom_crop),
    "rotate_shift": (lambda c: c.rotation > 0.0 or c.shift > 0.0, random_rotate_shift),
    "contrast": (lambda c: c.contrast > 0.0, random_contrast),
    "gamma": (lambda c: c.gamma > 0.0, random_gamma),
    "brightness": (lambda c: c.brightness > 0.0, random_brightness),
    "sharpness": (lambda c: c.sharpness > 0.0, random_sharpness),
    "noise": (lambda c: c.noise > 0.0, random_noise),
}


def enabled(config: TrainConfig) -> list[str]:
    """Names of the augmentations this config turns on (none when ``augment`` is off)."""
    return [name for name, (is_on, _) in AUGMENTATIONS.items() if config.augment and is_on(config)]


def augment_batch(x, config: TrainConfig, seed):
    """Apply the enabled augmentations to a float batch; ``seed`` is an int64 pair."""
    from edgecxr.tfenv import tf

    names = enabled(config)
    seeds = tf().random.experimental.stateless_split(seed, max(1, len(names)))
    for i, name in enumerate(names):
        x = AUGMENTATIONS[name][1](x, config, seeds[i])
    return x


def mixup(x, rest: list, alpha: float, seed):
    """Blend each image, target and sample weight with the batch's mirror order: lam x_i +
    (1 - lam) x_(n-1-i), lam ~ Beta(alpha, alpha) per image (a smoother decision surface; the
    model cannot lean on one texture of the training scanner)."""
    from edgecxr.tfenv import tf

    t = tf()
    s1, s2 = t.unstack(t.random.experimental.stateless_split(t.reverse(seed, [0]), 2))
    n = t.shape(x)[0]
    a = t.random.stateless_gamma([n], s1, alpha)
    b = t.random.stateless_gamma([n], s2, alpha)
    lam = a / (a + b + 1e-9)

    def blend(v):
        w = t.reshape(lam, [-1] + [1] * (len(v.shape) - 1))
        return w * v + (1.0 - w) * t.reverse(v, [0])

    return (blend(x), *(blend(t.cast(v, t.float32)) for v in rest))
