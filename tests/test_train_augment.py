"""Augmentation ops: what each does, that the config switches them, that a seed repeats them."""

from dataclasses import replace

import numpy as np

from edgecxr.config import TrainConfig, recipe_config
from edgecxr.train import augment


def _batch(n=4, size=12):
    return np.random.default_rng(0).random((n, size, size, 1), dtype=np.float32)


def _seed(a, b=0):
    from edgecxr.tfenv import tf

    return tf().constant([a, b], tf().int64)


def test_config_switches_the_augmentations():
    assert augment.enabled(TrainConfig()) == ["flip", "zoom_crop", "brightness"]
    assert augment.enabled(replace(TrainConfig(), augment=False)) == []
    assert augment.enabled(replace(TrainConfig(), flip=False, brightness=0.0)) == ["zoom_crop"]
    assert augment.enabled(recipe_config("cxr")) == ["zoom_crop", "contrast", "gamma", "brightness"]
    assert "rotate_shift" in augment.enabled(recipe_config("cxr", rotation=5.0))


def test_flip_mirrors_whole_images_or_leaves_them():
    x = _batch(16)
    y = augment.random_flip(x, TrainConfig(), _seed(3)).numpy()
    flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(16)]
    kept = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped) and any(kept)


def test_zoom_crop_is_identity_at_1x_and_magnifies_above():
    x = _batch()
    same = augment.random_zoom_crop(x, replace(TrainConfig(), zoom_max=1.0), _seed(1)).numpy()
    np.testing.assert_allclose(same, x, atol=1e-6)
    ramp = np.tile(np.linspace(0, 1, 12, dtype=np.float32)[None, None, :, None], (4, 12, 1, 1))
    zoomed = augment.random_zoom_crop(ramp, replace(TrainConfig(), zoom_max=1.2), _seed(1)).numpy()
    spread = zoomed[:, 0, -1, 0] - zoomed[:, 0, 0, 0]  # a zoomed-in ramp spans less of [0, 1]
    assert np.all(spread < 1.0 - 1e-3) and np.all(spread > 1 / 1.2 - 1e-3)


def test_brightness_shifts_within_bounds_and_clips():
    x = np.full((64, 4, 4, 1), 0.5, np.float32)
    y = augment.random_brightness(x, TrainConfig(), _seed(2)).numpy()
    shift = y[:, 0, 0, 0] - 0.5
    assert np.all(np.abs(shift) <= 0.2 + 1e-6) and shift.std() > 0.05
    assert np.all(np.abs(y - y[:, :1, :1]) < 1e-7)  # one offset per image
    ones = augment.random_brightness(np.ones((8, 2, 2, 1), np.float32), TrainConfig(), _seed(2)).numpy()
    assert ones.max() <= 1.0


def test_same_seed_same_batch_other_seed_other_batch():
    x = _batch()
    a = augment.augment_batch(x, TrainConfig(), _seed(7)).numpy()
    b = augment.augment_batch(x, TrainConfig(), _seed(7)).numpy()
    c = augment.augment_batch(x, TrainConfig(), _seed(8)).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_rotate_shift_is_identity_at_zero_and_moves_content_otherwise():
    x = np.zeros((4, 16, 16, 1), np.float32)
    x[:, 4:12, 7:9] = 1.0  # a vertical bar
    still = augment.random_rotate_shift(x, replace(TrainConfig(), rotation=0.0, shift=0.0), _seed(1)).numpy()
    np.testing.assert_allclose(still, x, atol=1e-6)
    turned = augment.random_rotate_shift(x, replace(TrainConfig(), rotation=90.0), _seed(1)).numpy()
    assert np.abs(turned - x).max() > 0.5
    assert abs(turned.sum() - x.sum()) / x.sum() < 0.35  # moved, not erased


def test_contrast_keeps_the_mean_and_gamma_keeps_the_order():
    x = _batch(8)
    c = augment.random_contrast(x, replace(TrainConfig(), contrast=0.2), _seed(4)).numpy()
    np.testing.assert_allclose(c.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=0.02)
    assert not np.allclose(c, x)
    g = augment.random_gamma(x, replace(TrainConfig(), gamma=0.25), _seed(5)).numpy()
    flat_x, flat_g = x[0].ravel(), g[0].ravel()
    assert np.array_equal(np.argsort(flat_x), np.argsort(flat_g))  # monotonic per image
    assert 0.0 <= g.min() and g.max() <= 1.0 and not np.allclose(g, x)


def test_sharpness_blurs_or_sharpens_and_keeps_flat_images():
    flat = np.full((8, 6, 6, 1), 0.3, np.float32)
    np.testing.assert_allclose(augment.random_sharpness(flat, replace(TrainConfig(), sharpness=1.0), _seed(4)),
                               flat, atol=1e-6)
    edge = np.zeros((32, 6, 6, 1), np.float32)
    edge[:, :, 3:] = 0.5
    y = augment.random_sharpness(edge, replace(TrainConfig(), sharpness=1.0), _seed(4)).numpy()
    step = y[:, 0, 3, 0] - y[:, 0, 2, 0]  # < 0.5: blurred, > 0.5: sharpened
    assert (step < 0.5 - 1e-3).any() and (step > 0.5 + 1e-3).any() and y.min() >= 0.0 and y.max() <= 1.0


def test_noise_and_aspect_change_images_within_range():
    x = _batch(8)
    noisy = augment.random_noise(x, replace(TrainConfig(), noise=0.05), _seed(5)).numpy()
    assert 0.0 < np.abs(noisy - x).mean() < 0.05 and noisy.min() >= 0.0 and noisy.max() <= 1.0
    assert augment.enabled(replace(TrainConfig(), zoom_max=1.0, aspect=0.1, flip=False, brightness=0.0)) == ["zoom_crop"]
    squashed = augment.random_zoom_crop(x, replace(TrainConfig(), zoom_max=1.0, aspect=0.2), _seed(5)).numpy()
    assert squashed.shape == x.shape and not np.allclose(squashed, x)


def test_mixup_blends_images_targets_and_weights_alike():
    x = _batch(6)
    y = np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 1, 0]]
    w = np.arange(1, 7, dtype=np.float32)
    mx, my, mw = (v.numpy() for v in augment.mixup(x, [y, w], 0.4, _seed(6)))
    lam = (mw - w[::-1]) / (w - w[::-1])  # the per-image weight, recovered from the sample weights
    np.testing.assert_allclose(mx, lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[::-1], atol=1e-5)
    np.testing.assert_allclose(my, lam[:, None] * y + (1 - lam[:, None]) * y[::-1], atol=1e-5)
    assert np.all((lam >= 0) & (lam <= 1)) and np.allclose(my.sum(axis=1), 1.0)
