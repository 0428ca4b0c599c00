"""Augmentation ops: what each does, that the config switches them, that a seed repeats them."""

from dataclasses import replace

import numpy as np

from edgecxr import augment
from edgecxr.config import TrainConfig


def _batch(n=4, size=12):
    return np.random.default_rng(0).random((n, size, size, 1), dtype=np.float32)


def _seed(a, b=0):
    from edgecxr.tfenv import tf

    return tf().constant([a, b], tf().int64)


def test_config_switches_the_augmentations():
    assert augment.enabled(TrainConfig()) == ["flip", "zoom_crop", "brightness"]
    assert augment.enabled(replace(TrainConfig(), augment=False)) == []
    assert augment.enabled(replace(TrainConfig(), flip=False, brightness=0.0)) == ["zoom_crop"]


def test_flip_mirrors_whole_images_or_leaves_them():
    x = _batch(16)
    y = augment.random_flip(x, TrainConfig(), _seed(3)).numpy()
    flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(16)]
    kept = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


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
