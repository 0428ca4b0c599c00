"""The published papers' recipes (edgecxr.config.RECIPES rows that name a model): each row is a
valid config for a model of its paper, every paper of the model table has one, a recipe refuses
another paper's model in one error line, and one paper recipe trains end to end through the CLI."""

from __future__ import annotations

import json
import tomllib

import pytest
from typer.testing import CliRunner

import edgecxr.cli
from edgecxr.config import RECIPES, check_recipe_model, recipe_config
from edgecxr.errors import ConfigError
from edgecxr.models import zoo

PAPER_RECIPES = {name: row["model"] for name, row in RECIPES.items() if "model" in row}


def invoke(*args):
    return CliRunner().invoke(edgecxr.cli.app, [str(a) for a in args])


def one_error(result, words: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert [ln.split(":")[0] for ln in lines if ln.startswith(("error:", "hint:"))] == ["error", "hint"], result.output
    assert words in next(ln for ln in lines if ln.startswith("error:")), result.output
    assert "Traceback" not in result.output


def test_every_paper_of_the_model_table_has_its_recipe():
    assert {zoo.MODELS[m].citation for m in PAPER_RECIPES.values()} == {e.citation for e in zoo.MODELS.values()}


@pytest.mark.parametrize("recipe", sorted(PAPER_RECIPES))
def test_a_paper_recipe_is_a_valid_config_for_its_paper_models(recipe):
    config = recipe_config(recipe)
    assert (config.recipe, config.model) == (recipe, PAPER_RECIPES[recipe])
    own = [name for name, e in zoo.MODELS.items() if e.citation == zoo.MODELS[config.model].citation]
    for model in own:  # e.g. huynh_cnn4 and every *_foldable twin train with their paper's recipe
        entry = zoo.get_entry(model)
        h, w, c = zoo.input_shape_for(entry, config.size, config.channels)
        assert h == w == config.size >= entry.min_size and c == config.channels == entry.input_shape[2]
        assert recipe_config(recipe, model=model).model == model
    others = [name for name in zoo.MODELS if name not in own]
    with pytest.raises(ConfigError, match=f"model {others[0]} is not from that paper"):
        recipe_config(recipe, model=others[0])


def test_recipes_without_a_model_take_any_model():
    for name in ("cxr", "edge-impulse"):
        for model in zoo.MODELS:
            check_recipe_model(name, model)


def test_a_recipe_whose_model_does_not_match_is_one_error_and_writes_nothing(tmp_path, synth_binary):
    result = invoke("train", "--data", synth_binary, "--recipe", "abdelaal", "--model", "huynh_cnn5",
                    "--runs-root", tmp_path / "runs")
    one_error(result, "recipe abdelaal reproduces Abdelaal")
    assert "--recipe cxr" in result.output
    assert not (tmp_path / "runs").exists()


def test_an_unknown_paper_recipe_is_one_error(tmp_path, synth_binary):
    result = invoke("train", "--data", synth_binary, "--recipe", "abdelal", "--runs-root", tmp_path / "runs")
    one_error(result, "unknown recipe 'abdelal'; did you mean 'abdelaal'?")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_paper_recipe_trains_through_the_cli(tmp_path, synth_binary):
    """Kirthan's recipe, one epoch on 80 synthetic images: the run is the paper's model, input
    and recipe, recorded so that `--config config.toml` repeats it."""
    result = invoke("train", "--data", synth_binary, "--recipe", "kirthan", "--epochs", "1", "--name", "k",
                    "--runs-root", tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert (out["recipe"], out["model"], out["input_shape"]) == ("kirthan", "kirthan_cnn", [128, 128, 1])
    run = tmp_path / "runs" / "k"
    config = tomllib.loads((run / "config.toml").read_text())
    assert (config["recipe"], config["model"], config["size"], config["schedule"]) == \
        ("kirthan", "kirthan_cnn", 128, "plateau")
    spec = json.loads((run / "spec.json").read_text())
    assert (spec["width"], spec["height"], spec["channels"], spec["normalize"]) == (128, 128, 1, "none")
    assert (run / "model.keras").exists() and out["val_metrics"]["roc_auc"]["value"] is not None
