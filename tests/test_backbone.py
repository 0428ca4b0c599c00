"""`edgecxr backbone build|list|show` and `train --backbone`: a tiny backbone on synthetic data."""

import json
import re
import shutil
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr import backbone
from edgecxr.backbone import BackboneRecipe

pytestmark = pytest.mark.slow
TINY = BackboneRecipe("tiny", "synthetic", "binary", "CC0", "edge-impulse",
                      overrides={"size": 32, "epochs": 2, "batch_size": 8, "learning_rate": 0.005, "bn_momentum": 0.5})
# a run whose input fits the tiny backbone
TRAIN = ["--recipe", "edge-impulse", "--size", "32", "--epochs", "1", "--batch-size", "8"]


def cli(*args):
    r = CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])
    return r


def one_error(r, words: str):
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2, r.output
    assert lines[-2].startswith("error:") and words in lines[-2] and lines[-1].startswith("hint:"), r.output


@pytest.fixture
def tiny_table(monkeypatch, tmp_path):
    monkeypatch.setitem(backbone.BACKBONES, "tiny", TINY)
    monkeypatch.setattr(backbone, "DEFAULT_BACKBONE", "tiny")
    monkeypatch.setenv("EDGECXR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "backbones" / "tiny"


def build_cached(tmp_path_factory, recipe: BackboneRecipe, data, *args):
    """Build ``recipe`` through the CLI into a fresh cache from ``data``, which is where its dataset
    is found (EDGECXR_SHARED_DATA, so the build names it): (its folder, backbone.json, the result)."""
    mp = pytest.MonkeyPatch()
    cache = tmp_path_factory.mktemp("bbcache")
    mp.setitem(backbone.BACKBONES, recipe.name, recipe)
    mp.setenv("EDGECXR_CACHE", str(cache))
    mp.setenv("EDGECXR_SHARED_DATA", str(data.parent))
    r = cli("backbone", "build", recipe.name, "--data", data, *args, "--json")
    mp.undo()
    assert r.exit_code == 0, r.output
    return cache / "backbones" / recipe.name, json.loads(r.stdout.strip().splitlines()[-1]), r


@pytest.fixture(scope="module")
def built(tmp_path_factory, synth_binary):
    """A built tiny backbone's cache folder (copied into each test's cache)."""
    return build_cached(tmp_path_factory, TINY, synth_binary)[:2]


def test_build_records_provenance_and_list_show_read_it(built, tiny_table):
    folder, meta = built
    shutil.copytree(folder, tiny_table)
    assert meta["dataset"] == "synthetic" and meta["recipe"] == "edge-impulse" and meta["seed"] == 0
    assert meta["input"]["width"] == 32 and 0.0 <= meta["figures"]["roc_auc"] <= 1.0
    assert sorted(p.name for p in tiny_table.iterdir()) == ["backbone.json", "model.keras"]
    listed = cli("backbone", "list")
    assert listed.exit_code == 0 and any(ln.startswith("tiny") and "built" in ln for ln in listed.stdout.splitlines())
    shown = cli("backbone", "show", "tiny")
    assert shown.exit_code == 0 and "dataset: synthetic (CC0)" in shown.stdout and "recipe: edge-impulse" in shown.stdout
    one_error(cli("backbone", "build", "tiny", "--data", meta["data"]), "already built")


def test_train_from_a_backbone(built, tiny_table, synth_binary, tmp_path):
    shutil.copytree(built[0], tiny_table)
    r = cli("train", "--data", synth_binary, *TRAIN, "--backbone", "tiny", "--runs-root", tmp_path / "runs",
            "--name", "b", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["backbone"] == "tiny" and out["weights_report"]["loaded"]
    assert 'backbone = "tiny"' in (tmp_path / "runs" / "b" / "config.toml").read_text()


def test_backbone_of_another_input_is_one_error(built, tiny_table, synth_binary, tmp_path):
    shutil.copytree(built[0], tiny_table)
    r = cli("train", "--data", synth_binary, *TRAIN, "--size", "48", "--backbone", "tiny", "--runs-root",
            tmp_path / "runs", "--name", "b")
    one_error(r, "built for width 32, this run uses 48")
    assert "--size 32" in r.output
    assert not (tmp_path / "runs" / "b").exists()


def test_corrupt_and_missing_backbones_are_one_error(built, tiny_table, synth_binary, tmp_path):
    train = ["train", "--data", synth_binary, *TRAIN, "--backbone", "tiny", "--runs-root", tmp_path / "runs"]
    one_error(cli(*train), "not built on this machine")
    one_error(cli("backbone", "show", "tiny"), "not built on this machine")
    one_error(cli(*train[:-2], "--backbone", "tinyy"), "did you mean 'tiny'")
    one_error(cli(*train, "--weights", built[0] / "model.keras"), "both give the starting weights")
    shutil.copytree(built[0], tiny_table)
    (tiny_table / "model.keras").write_bytes(b"truncated")
    one_error(cli(*train), "not the file that was built")
    (tiny_table / "backbone.json").write_text("{")
    one_error(cli(*train), "not JSON")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_auto_builds_the_default_backbone_for_a_small_training_set(tiny_table, synth_binary, tmp_path, monkeypatch):
    # without the backbone's dataset anywhere: one error saying where it was looked for
    monkeypatch.setenv("EDGECXR_SHARED_DATA", str(tmp_path / "nowhere"))
    one_error(cli("train", "--data", synth_binary, *TRAIN, "--backbone", "auto", "--runs-root", tmp_path / "runs"),
              "no binary folder was found")
    assert not (tmp_path / "runs").exists()
    monkeypatch.setenv("EDGECXR_SHARED_DATA", str(synth_binary.parent))
    r = cli("train", "--data", synth_binary, *TRAIN, "--backbone", "auto", "--runs-root", tmp_path / "runs",
            "--name", "a", "--json")
    assert r.exit_code == 0, r.output
    assert "building it now" in r.stderr and "--backbone none" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["backbone"] == "tiny" and (tiny_table / "model.keras").is_file()
    # large enough training sets train from scratch
    monkeypatch.setattr(backbone, "SMALL_TRAINING_SET", 10)
    r = cli("train", "--data", synth_binary, *TRAIN, "--backbone", "auto", "--runs-root", tmp_path / "runs",
            "--name", "big", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["backbone"] == "none"


# a SimCLR backbone at the tiny input (built with --epochs 1 over the row's 2: the flag wins)
TINY_SSL = BackboneRecipe("tiny-ssl", "synthetic", "binary", "CC0", "edge-impulse", method="simclr",
                          overrides={"size": 32, "epochs": 2, "batch_size": 16, "learning_rate": 0.005})


@pytest.fixture
def ssl_table(monkeypatch, tmp_path):
    monkeypatch.setitem(backbone.BACKBONES, "tiny-ssl", TINY_SSL)
    monkeypatch.setenv("EDGECXR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "backbones" / "tiny-ssl"


@pytest.fixture(scope="module")
def built_ssl(tmp_path_factory, synth_binary):
    folder, meta, r = build_cached(tmp_path_factory, TINY_SSL, synth_binary, "--epochs", 1)
    assert "SimCLR (labels unused)" in r.stderr and "epoch 1/1  NT-Xent" in r.stderr
    return folder, meta


def test_ssl_backbone_records_provenance_and_trains_a_run(built_ssl, ssl_table, synth_binary, tmp_path):
    from edgecxr.files import sha256_file

    folder, meta = built_ssl
    shutil.copytree(folder, ssl_table)
    assert meta["method"] == "simclr" and meta["dataset"] == "synthetic" and meta["license"] == "CC0"
    assert meta["epochs"] == 1 and meta["seed"] == 0 and meta["labels"] == []
    assert meta["input"] == {"width": 32, "height": 32, "channels": 1, "normalize": "none", "resize_mode": "squash"}
    assert meta["sha256"] == sha256_file(ssl_table / "model.keras")
    assert meta["figures"]["nt_xent"] > 0 and "labels unused" in meta["figures"]["split"]
    listed = cli("backbone", "list")
    assert any(ln.startswith("tiny-ssl") and "built" in ln and "simclr" in ln for ln in listed.stdout.splitlines())
    shown = cli("backbone", "show", "tiny-ssl")
    assert shown.exit_code == 0 and "method simclr" in shown.stdout and "no labels" in shown.stdout, shown.output
    r = cli("train", "--data", synth_binary, *TRAIN, "--backbone", "tiny-ssl", "--runs-root", tmp_path / "runs",
            "--name", "s", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    report = out["weights_report"]
    assert out["backbone"] == "tiny-ssl" and {"conv1", "conv_pw_13"} <= set(report["loaded"])
    assert not report["skipped"] and not report["absent"]
    # pretrained on the run's own training split only (same seed and fraction): never validation
    assert meta["figures"]["train_images"] == out["train_images"]


def test_corrupt_ssl_backbone_is_one_error(built_ssl, ssl_table, synth_binary, tmp_path):
    train = ["train", "--data", synth_binary, *TRAIN, "--backbone", "tiny-ssl", "--runs-root", tmp_path / "runs"]
    shutil.copytree(built_ssl[0], ssl_table)
    model = ssl_table / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])
    one_error(cli(*train), "not the file that was built")
    one_error(cli("backbone", "show", "tiny-ssl"), "not the file that was built")
    (ssl_table / "backbone.json").write_text("{")
    one_error(cli(*train), "not JSON")
    model.unlink()
    one_error(cli(*train), "is missing")
    assert "broken" in cli("backbone", "list").stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    # a checksum that matches a file Keras cannot read (written by hand): still one error
    model.write_bytes(b"not a zip")
    (ssl_table / "backbone.json").write_text(json.dumps({**built_ssl[1], "sha256": backbone.sha256_file(model)}))
    one_error(cli(*train), "cannot load")


def test_simclr_pretrains_any_convolutional_model_of_the_zoo(synth_binary):
    """The projection head starts at the model's own last feature map, not at a MobileNetV1 layer
    name; a model without one is one error."""
    from edgecxr import ssl
    from edgecxr.config import recipe_config
    from edgecxr.errors import ConfigError
    from edgecxr.tfenv import keras

    config = recipe_config("edge-impulse", model="kirthan_cnn_foldable", size=32, epochs=1, batch_size=16)
    done = ssl.pretrain(config, synth_binary)
    assert done.shape == (32, 32, 1) and len(done.losses) == 1 and done.losses[0] > 0
    assert ssl.feature_map(done.model).name.startswith("block3_pool")  # its last conv block, before the head
    inp = keras().Input((8,))
    with pytest.raises(ConfigError, match="no convolutional feature map") as e:
        ssl.feature_map(keras().Model(inp, keras().layers.Dense(2)(inp)))
    assert "convolutional model" in e.value.hint


def _validation_seen(run_dir, meta) -> tuple[int, int]:
    """(how many of the run's validation images are among the backbone's training images, of how many)."""
    from edgecxr.data.split import read_split

    dataset, assignment = read_split(run_dir / "split.json")
    val = [s.path.relative_to(dataset.root).as_posix() for s in dataset.samples if assignment[s.path] == "val"]
    return sum(p in meta["train_images"] for p in val), len(val)


def test_train_says_how_many_validation_images_its_backbone_trained_on(built, tiny_table, synth_binary, tmp_path):
    shutil.copytree(built[0], tiny_table)
    meta = json.loads((tiny_table / "backbone.json").read_text())
    assert len(meta["train_images"]) == meta["figures"]["train_images"]  # every training image, by path and bytes
    train = ["train", "--data", synth_binary, *TRAIN, "--backbone", "tiny", "--runs-root", tmp_path / "runs"]
    r = cli(*train, "--seed", "1", "--name", "s1")  # another split of the same images
    assert r.exit_code == 0, r.output
    seen, val = _validation_seen(tmp_path / "runs" / "s1", meta)
    assert seen > 0 and f"warning: backbone tiny was trained on {seen} of this run's {val} validation images" \
        in " ".join(r.stderr.split()), r.stderr
    assert "--seed 0 --val-fraction 0.2" in " ".join(r.stderr.split())
    r = cli(*train, "--seed", "0", "--name", "s0")  # the backbone's own split: nothing seen
    assert r.exit_code == 0 and "warning: backbone" not in r.stderr, r.output
    assert _validation_seen(tmp_path / "runs" / "s0", meta)[0] == 0
    # a backbone.json written before the images were recorded still loads; the check is said to be skipped
    (tiny_table / "backbone.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "train_images"}))
    r = cli(*train, "--seed", "1", "--name", "old")
    assert r.exit_code == 0 and "is not checked" in " ".join(r.stderr.split()), r.output


def test_a_backbone_built_from_other_data_is_labelled_as_that_data(tiny_table, synth_binary, tmp_path, monkeypatch):
    """--data elsewhere than the recipe's dataset: the build never claims that dataset's name or
    license; data with other classes than a registered dataset's is refused."""
    elsewhere = tmp_path / "mine"
    shutil.copytree(synth_binary, elsewhere)
    monkeypatch.setenv("EDGECXR_SHARED_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setitem(backbone.BACKBONES, "tiny", TINY)
    r = cli("backbone", "build", "tiny", "--data", elsewhere, "--json")
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout.strip().splitlines()[-1])
    assert meta["dataset"].startswith("user data from") and "synthetic" != meta["dataset"]
    assert meta["license"].startswith("unknown") and "CC0" not in meta["license"]
    assert "user data from" in cli("backbone", "list").stdout
    monkeypatch.setitem(backbone.BACKBONES, "kermany-tiny", BackboneRecipe("kermany-tiny", "kermany", "kermany224",
                                                                           "CC BY 4.0", "edge-impulse"))
    multi = tmp_path / "multi"
    for c in ("Covid", "Normal", "Viral"):
        shutil.copytree(synth_binary / "NORMAL", multi / c)
    one_error(cli("backbone", "build", "kermany-tiny", "--data", multi), "NORMAL, PNEUMONIA")


@pytest.mark.parametrize("content", ["[]", "null", '{"name": "tiny"}', '{"figures": [], "input": 3}', "7"])
def test_a_backbone_json_of_the_wrong_shape_is_one_error(built, tiny_table, synth_binary, tmp_path, content):
    folder, _ = built
    shutil.copytree(folder, tiny_table)
    (tiny_table / "backbone.json").write_text(content)
    one_error(cli("backbone", "show", "tiny"), "damaged")
    listed = cli("backbone", "list")
    assert listed.exit_code == 0 and "broken" in listed.stdout
    one_error(cli("train", "--data", synth_binary, *TRAIN, "--backbone", "tiny", "--runs-root", tmp_path / "runs"),
              "damaged")


def test_pretraining_a_run_that_starts_from_a_backbone_is_refused_or_recorded_as_skipped(built, tiny_table,
                                                                                          synth_binary, tmp_path):
    folder, _ = built
    shutil.copytree(folder, tiny_table)
    one_error(cli("train", "--data", synth_binary, *TRAIN, "--backbone", "tiny", "--pretrain-epochs", "2",
                  "--runs-root", tmp_path / "runs"), "--pretrain-epochs 2 with --backbone")
    (tmp_path / "c.toml").write_text('backbone = "tiny"\npretrain_epochs = 2\n')  # e.g. a recipe's two defaults
    r = cli("train", "--data", synth_binary, *TRAIN, "--config", tmp_path / "c.toml", "--runs-root", tmp_path / "runs",
            "--name", "r", "--json")
    assert r.exit_code == 0, r.output
    assert "pretraining skipped" in r.stderr
    recorded = (tmp_path / "runs" / "r" / "config.toml").read_text()
    assert "pretrain_epochs = 0" in recorded and 'backbone = "tiny"' in recorded
    assert "pretrained" not in json.loads(r.stdout.strip().splitlines()[-1])["val_metrics"]


def test_a_build_says_what_it_builds_and_how_long_before_it_starts(tiny_table, synth_binary):
    r = cli("backbone", "build", "tiny", "--data", synth_binary, "--json")
    assert r.exit_code == 0, r.output
    err = r.stderr
    assert "building backbone tiny once for this machine" in err and "the edge-impulse recipe" in err
    estimate = next(line for line in err.splitlines() if line.startswith("estimate: about"))
    assert re.search(r"training 2 epochs x \d+ images at \d+ images/s", estimate) and "timed just now" in estimate
    assert err.index("estimate: about") < err.index("epoch 1/2")  # said before the work starts
    assert not list(tiny_table.parent.glob(".tiny.building"))  # a finished build keeps no progress folder


def _interrupt_after_first(monkeypatch, owner, attribute, first_done):
    """``owner.attribute`` wrapped to raise KeyboardInterrupt (what Ctrl-C raises) once
    ``first_done(*args)`` says the first epoch is finished (and kept)."""
    original = getattr(owner, attribute)

    def wrapped(*args, **kwargs):
        out = original(*args, **kwargs)
        if first_done(*args):
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(owner, attribute, wrapped)
    return lambda: monkeypatch.setattr(owner, attribute, original)


def test_an_interrupted_build_continues_where_it_stopped(tiny_table, synth_binary, monkeypatch):
    from edgecxr.train import callbacks

    restore = _interrupt_after_first(monkeypatch, callbacks.Checkpoint, "on_epoch_end", lambda cb, epoch, *_: epoch == 0)
    r = cli("backbone", "build", "tiny", "--data", synth_binary)
    one_error(r, "building backbone tiny interrupted: its finished epochs are kept")
    assert "edgecxr backbone build tiny" in r.output.splitlines()[-1]
    work = tiny_table.parent / ".tiny.building"
    assert json.loads((work / "run" / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert not tiny_table.exists()
    assert "interrupted build is kept" in cli("backbone", "list").stdout
    restore()
    r = cli("backbone", "build", "tiny", "--data", synth_binary, "--json")
    assert r.exit_code == 0, r.output
    assert "continuing the interrupted build" in r.stderr and "after epoch 1" in r.stderr
    assert re.search(r"estimate: about .*training 1 epochs", r.stderr)  # what is left, not the whole build
    assert "epoch 2/2" in r.stderr and "epoch 1/2" not in r.stderr  # the first epoch is not trained again
    assert (tiny_table / "model.keras").is_file() and not work.exists()


def test_an_interrupted_simclr_build_continues_from_its_last_epoch(ssl_table, synth_binary, monkeypatch):
    restore = _interrupt_after_first(monkeypatch, backbone, "log", lambda line: "pretraining epoch 1/2" in line)
    one_error(cli("backbone", "build", "tiny-ssl", "--data", synth_binary), "building backbone tiny-ssl interrupted")
    state = json.loads((ssl_table.parent / ".tiny-ssl.building" / "pretrain" / "state.json").read_text())
    assert state["epoch"] == 1 and len(state["losses"]) == 1
    restore()
    r = cli("backbone", "build", "tiny-ssl", "--data", synth_binary, "--json")
    assert r.exit_code == 0, r.output
    assert "continuing after epoch 1/2" in r.stderr
    assert "pretraining epoch 2/2" in r.stderr and "pretraining epoch 1/2" not in r.stderr
    meta = json.loads(r.stdout.strip().splitlines()[-1])
    assert meta["figures"]["nt_xent"] != state["losses"][0] and meta["epochs"] == 2
    # a build of other settings does not continue another's progress: it starts over
    restore = _interrupt_after_first(monkeypatch, backbone, "log", lambda line: "pretraining epoch 1/3" in line)
    one_error(cli("backbone", "build", "tiny-ssl", "--data", synth_binary, "--epochs", 3, "--force"), "interrupted")
    restore()
    restore = _interrupt_after_first(monkeypatch, backbone, "log", lambda line: "pretraining epoch 1/4" in line)
    r = cli("backbone", "build", "tiny-ssl", "--data", synth_binary, "--epochs", 4, "--force")
    restore()  # (interrupted again after its first epoch: the start is what this checks)
    assert "starting the build over" in r.stderr and "pretraining epoch 1/4" in r.stderr


def test_an_interrupted_pretraining_of_a_supervised_build_continues_too(monkeypatch, tmp_path, synth_binary):
    """The default backbone's recipe pretrains (SimCLR) before it trains: that phase is kept per epoch too."""
    from edgecxr.train import stage

    pretraining = replace(TINY, name="tiny-pre", overrides={**TINY.overrides, "epochs": 1, "pretrain_epochs": 2})
    monkeypatch.setitem(backbone.BACKBONES, "tiny-pre", pretraining)
    monkeypatch.setenv("EDGECXR_CACHE", str(tmp_path / "cache"))
    restore = _interrupt_after_first(monkeypatch, stage, "log", lambda line: "pretraining epoch 1/2" in line)
    one_error(cli("backbone", "build", "tiny-pre", "--data", synth_binary), "building backbone tiny-pre interrupted")
    restore()
    r = cli("backbone", "build", "tiny-pre", "--data", synth_binary, "--json")
    assert r.exit_code == 0, r.output
    assert "continuing after epoch 1/2" in r.stderr and "pretraining epoch 1/2" not in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["figures"]["pretrained"]["epochs"] == 2
