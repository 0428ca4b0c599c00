"""TrainConfig: the Edge Impulse defaults, TOML round trip, and one-line errors for bad files."""

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.config import DEFAULT_RECIPE, RECIPES, TrainConfig, load_train_config, read_run_config, recipe_config
from edgecxr.errors import ConfigError
from edgecxr.tomlio import from_dict, load_config, to_toml


def test_defaults_are_the_edge_impulse_recipe():
    c = TrainConfig()
    assert (c.model, c.alpha, c.epochs, c.learning_rate, c.batch_size, c.val_fraction) == \
        ("mobilenet_v1", 0.25, 150, 0.0005, 32, 0.2)
    assert c.augment and c.flip and c.zoom_max == 1.2 and c.brightness == 0.2 and c.balance


def test_toml_round_trip(tmp_path):
    config = replace(TrainConfig(), model="huynh_cnn5", size=150, learning_rate=1e-6, weights='C:\\w "x".h5',
                     augment=False)
    path = tmp_path / "c.toml"
    path.write_text(to_toml(config, "a header\nof two lines"))
    assert load_config(TrainConfig, path) == config


def test_overrides_win_over_the_file_and_none_means_not_given(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("epochs = 7\nseed = 3\n")
    config = load_config(TrainConfig, path, {"epochs": 9, "seed": None})
    assert (config.epochs, config.seed) == (9, 3)


def test_int_is_accepted_where_a_float_is_expected():
    assert from_dict(TrainConfig, {"learning_rate": 1}).learning_rate == 1.0


@pytest.mark.parametrize("text,message", [
    ("epoch = 3\n", "unknown key 'epoch'; did you mean 'epochs'?"),
    ("epochs = \"many\"\n", "epochs must be int, not str"),
    ("augment = 1\n", "augment must be bool, not int"),
    ("batch_size = true\n", "batch_size must be int, not bool"),
    ("epochs = [\n", "not valid TOML"),
])
def test_bad_config_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("[", r"\[")):
        load_config(TrainConfig, path)


def test_cli_config_with_unknown_key_exits_with_one_line(tmp_path, synth_binary):
    path = tmp_path / "bad.toml"
    path.write_text("learning_rat = 0.1\n")
    result = CliRunner().invoke(edgecxr.cli.app, ["train", "--data", str(synth_binary), "--config", str(path),
                                                  "--runs-root", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "error: " in result.output and "did you mean 'learning_rate'?" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("line, message, hint", [
    ('resize_mode = "zoom"', "unknown resize_mode 'zoom'", "choose one of squash, crop, pad"),
    ('normalize = "equalise"', "unknown normalize 'equalise'; did you mean 'equalize'?", "choose one of none, equalize"),
    ("channels = 2", "unknown channels 2", "choose one of 1, 3"),
    ("epochs = -3", "epochs -3 is out of range", "use a value from 1 to 10000"),
])
def test_a_bad_config_value_fails_before_the_run_exists(tmp_path, synth_binary, line, message, hint):
    """Values, not only types, are checked before config.toml and split.json are written, so
    the same --name is free for the retry."""
    path = tmp_path / "bad.toml"
    path.write_text(line + "\n")
    result = CliRunner().invoke(edgecxr.cli.app, ["train", "--data", str(synth_binary), "--config", str(path),
                                                  "--name", "r", "--runs-root", str(tmp_path / "runs")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0] == f"error: {path}: {message}" and lines[1].startswith(f"hint: {hint}")
    assert not (tmp_path / "runs").exists()


def test_the_retry_after_a_bad_config_value_takes_the_same_name(tmp_path, synth_binary):
    args = ["train", "--data", str(synth_binary), "--recipe", "edge-impulse", "--size", "32", "--epochs", "1",
            "--name", "r", "--runs-root", str(tmp_path / "runs")]
    path = tmp_path / "c.toml"
    path.write_text('resize_mode = "zoom"\n')
    assert CliRunner().invoke(edgecxr.cli.app, [*args, "--config", str(path)]).exit_code == 2
    path.write_text('resize_mode = "crop"\n')
    result = CliRunner().invoke(edgecxr.cli.app, [*args, "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "runs" / "r" / "spec.json").read_text())["resize_mode"] == "crop"


def test_recipes_are_rows_over_the_edge_impulse_defaults():
    assert recipe_config("edge-impulse") == TrainConfig()
    cxr = recipe_config()
    assert DEFAULT_RECIPE == "cxr" and cxr.recipe == "cxr"
    assert (cxr.normalize, cxr.schedule, cxr.monitor, cxr.flip, cxr.threshold_rule) == \
        ("equalize", "cosine", "val_auc", False, "youden")
    assert cxr.backbone == "auto" and TrainConfig().backbone is None
    assert all(set(values) <= set(TrainConfig.__dataclass_fields__) for values in RECIPES.values())


def test_recipe_then_file_then_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('recipe = "edge-impulse"\nepochs = 7\n')
    from_file = load_train_config(path, {"seed": 4})
    assert (from_file.recipe, from_file.normalize, from_file.epochs, from_file.seed) == ("edge-impulse", "none", 7, 4)
    flagged = load_train_config(path, {"epochs": 9}, recipe="cxr")
    assert (flagged.recipe, flagged.normalize, flagged.epochs) == ("cxr", "equalize", 9)
    assert load_train_config() == recipe_config()


def test_a_run_config_reads_back_unchanged(tmp_path):
    config = recipe_config(epochs=3, flip=True)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(config))
    assert load_train_config(path) == config


def test_a_run_reads_its_own_config_without_the_keys_added_since_as_off(tmp_path):
    """A cxr run written before pretraining and weight averaging existed read back as the run
    it was (and one that used ema still loads), not with today's recipe values."""
    keys = to_toml(recipe_config(epochs=3, ema=0.99, average_fraction=0.0)).splitlines()
    old = [line for line in keys if not line.startswith(("pretrain_epochs", "average_fraction"))]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(old) + "\n")
    config = read_run_config(path)
    assert (config.pretrain_epochs, config.average_fraction, config.ema, config.epochs) == (0, 0.0, 0.99, 3)
    assert RECIPES[DEFAULT_RECIPE]["pretrain_epochs"] and RECIPES[DEFAULT_RECIPE]["average_fraction"]
    assert read_run_config(_written(tmp_path, recipe_config(epochs=3))) == recipe_config(epochs=3)


def _written(folder, config):
    path = folder / "whole.toml"
    path.write_text(to_toml(config))
    return path


def test_unknown_recipe_is_one_line_through_the_cli(tmp_path, synth_binary):
    result = CliRunner().invoke(edgecxr.cli.app, ["train", "--data", str(synth_binary), "--recipe", "cxr2",
                                                  "--runs-root", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "unknown recipe 'cxr2'; did you mean 'cxr'?" in result.output
    assert not (tmp_path / "runs").exists()


def test_every_number_of_the_config_is_bounded_and_finite():
    """Each numeric TrainConfig field has a LIMITS row (or a CHOICES row), and NaN, infinity and
    a negative value are refused for each (issue 20: ema, aspect, sharpness, noise, mixup took them)."""
    import dataclasses
    import math

    from edgecxr.checks import CHOICES, LIMITS
    from edgecxr.config import TrainConfig
    from edgecxr.errors import ConfigError

    defaults = TrainConfig()
    numeric = [f.name for f in dataclasses.fields(TrainConfig) if f.name in ("size", "channels") or
               isinstance(getattr(defaults, f.name), (int, float)) and not isinstance(getattr(defaults, f.name), bool)]
    assert {"ema", "aspect", "sharpness", "noise", "mixup"} <= set(numeric)
    assert not [n for n in numeric if n not in LIMITS and n not in CHOICES]
    for name in (n for n in numeric if n in LIMITS):
        for bad in (math.nan, math.inf, -math.inf, -1):
            with pytest.raises(ConfigError):
                TrainConfig(**{name: bad})
    for name, good in {"ema": 0.99, "aspect": 0.2, "sharpness": 1.0, "noise": 0.05, "mixup": 0.2}.items():
        assert getattr(TrainConfig(**{name: good}), name) == good
