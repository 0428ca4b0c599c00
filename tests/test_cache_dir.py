"""One rule for where edgecxr keeps per-machine files (pixels, backbones, TFLM objects, Pi userlands)."""

from pathlib import Path

from edgecxr.backbone import cache_root as backbones
from edgecxr.bench.pi_emu import cache_root as userlands
from edgecxr.data.cache import cache_dir as pixels
from edgecxr.resources import cache_dir


def test_edgecxr_cache_wins_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGECXR_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("tflm") == tmp_path / "mine" / "tflm"
    assert [pixels(), backbones(), userlands()] == [tmp_path / "mine" / n for n in ("pixels", "backbones", "pi-userland")]
    monkeypatch.delenv("EDGECXR_CACHE")
    assert backbones() == tmp_path / "xdg" / "edgecxr" / "backbones"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pixels() == Path(tmp_path / "home" / ".cache" / "edgecxr" / "pixels")
