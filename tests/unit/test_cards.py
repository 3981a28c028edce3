"""ModelCard validation and weight resolution (no models loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.config import ConfigError, ModelsConfig
from vigil.detector.cards import CardError, ModelCard, builtin_cards_dir, load_card, load_cards
from vigil.detector.labels import CANONICAL_LABELS
from vigil.events.rules import RulesConfig, build_rules
from vigil.pipeline import cards_for_rules


def _raw(**changes: object) -> dict:
    """A valid card as a dict, with some fields replaced."""
    return {
        "name": "demo",
        "weights": {"path": "demo.pt"},
        "licence": "MIT",
        "source": "https://example.org/demo",
        "class_map": {"Fall": "person_fallen", "Bed": "ignore"},
        "thresholds": {"person_fallen": 0.5},
    } | changes


def test_valid_card_lists_its_labels_and_thresholds() -> None:
    card = ModelCard.model_validate(_raw())
    assert card.labels == {"person_fallen"}  # 'ignore' is not a label
    assert card.threshold("person_fallen") == 0.5
    assert card.threshold("person") == card.default_threshold


def test_unknown_label_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown label 'hardhat'"):
        ModelCard.model_validate(_raw(class_map={"Helmet": "hardhat"}, thresholds={}))


def test_threshold_for_a_label_the_model_lacks_is_rejected() -> None:
    with pytest.raises(ValidationError, match="'fire' is not a label this model provides"):
        ModelCard.model_validate(_raw(thresholds={"fire": 0.3}))


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ModelCard.model_validate(_raw(threshold=0.3))


@pytest.mark.parametrize(
    "weights",
    [
        {"path": "a.pt", "package": "pkg", "resource": "a.pt"},  # both
        {},  # neither
        {"package": "pkg"},  # package without resource
        {"resource": "a.pt"},
    ],
)
def test_weights_need_exactly_one_source(weights: dict) -> None:
    with pytest.raises(ValidationError, match="either path, or package and resource"):
        ModelCard.model_validate(_raw(weights=weights))


def test_unknown_compat_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ModelCard.model_validate(_raw(compat="monkeypatch"))


def test_relative_path_resolves_against_the_card_folder(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "demo.pt").write_bytes(b"x")
    card_file = tmp_path / "demo.yaml"
    card_file.write_text(
        "name: demo\nweights: {path: weights/demo.pt}\nlicence: MIT\nsource: here\n"
        "class_map: {Fall: person_fallen}\n"
    )
    assert load_card(card_file).resolve_weights() == tmp_path / "weights" / "demo.pt"


def test_missing_path_names_the_file(tmp_path: Path) -> None:
    card = ModelCard.model_validate(_raw(weights={"path": str(tmp_path / "gone.pt")}))
    with pytest.raises(CardError, match="gone.pt not found"):
        card.resolve_weights()


def test_missing_package_names_the_install() -> None:
    card = ModelCard.model_validate(
        _raw(weights={"package": "vigil-no-such-weights", "resource": "best.pt"})
    )
    with pytest.raises(CardError, match="pip install --no-deps vigil-no-such-weights"):
        card.resolve_weights()


def test_bad_card_file_gives_one_line(tmp_path: Path) -> None:
    card_file = tmp_path / "bad.yaml"
    card_file.write_text(
        "name: bad\nweights: {path: a.pt}\nlicence: x\nsource: y\nclass_map: {Helmet: hardhat}\n"
    )
    with pytest.raises(CardError, match=r"bad\.yaml: .*unknown label .hardhat.") as err:
        load_card(card_file)
    assert "\n" not in str(err.value)


def test_builtin_cards_are_valid() -> None:
    cards = load_cards()
    assert {"helmet", "fall", "fire"} <= set(cards)
    for card in cards.values():
        assert card.labels <= set(CANONICAL_LABELS)
        assert card.accuracy and card.notes and card.licence
        assert card.card_path is not None and card.card_path.parent == builtin_cards_dir()


def test_builtin_fire_card_keeps_the_models_orientation() -> None:
    # Checked on the Abonia1 valid set: the model's 'fire' matches labelled Fire boxes.
    assert load_cards()["fire"].class_map == {"smoke": "smoke", "fire": "fire"}


def test_disabled_cards_are_not_offered_and_unknown_names_are_errors() -> None:
    assert "fire_smoke" not in ModelsConfig(disabled=["fire_smoke"]).cards()
    assert {"fire", "fire_smoke"} <= set(ModelsConfig().cards())
    with pytest.raises(ConfigError, match=r"models\.disabled: no model card named fire_smok "):
        ModelsConfig(disabled=["fire_smok"]).cards()


def test_the_fire_card_serves_smoke_and_fire_and_disabling_it_runs_the_fine_tune() -> None:
    rules = build_rules(RulesConfig.model_validate({"smoke": {}, "fire": {}}))
    assert [c.name for c in cards_for_rules(rules, ModelsConfig().cards())] == ["fire"]
    fine_tune = ModelsConfig(disabled=["fire"]).cards()
    assert [c.name for c in cards_for_rules(rules, fine_tune)] == ["fire_smoke"]


def test_fingerprint_follows_the_cards_contents_and_weights_not_its_name(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    raw = {
        "name": "site", "weights": {"path": str(weights)}, "licence": "MIT", "source": "test",
        "class_map": {"Fall": "person_fallen"}, "thresholds": {"person_fallen": 0.5},
    }  # fmt: skip
    card = ModelCard.model_validate(raw)
    assert card.fingerprint() == ModelCard.model_validate(raw).fingerprint()
    stricter = ModelCard.model_validate(raw | {"thresholds": {"person_fallen": 0.8}})
    assert stricter.fingerprint() != card.fingerprint()
    before = card.fingerprint()
    weights.write_bytes(b"retrained")  # the same path, a new file
    assert card.fingerprint() != before
