"""The site model's training kit: class mapping/merge of the sets, and the masked loss."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

KIT = Path(__file__).resolve().parents[2] / "datasets" / "site_model"
sys.path.insert(0, str(KIT))

import site_loss  # noqa: E402
import site_merge  # noqa: E402
import widen_head  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _yolo_set(root: Path, names: list[str], images: dict[str, list[str]]) -> None:
    """A YOLO set with a train split: ``images`` = {stem: label rows}."""
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text(yaml.safe_dump({"names": names}))
    for stem, rows in images.items():
        (root / "train" / "images" / f"{stem}.jpg").write_bytes(b"jpeg")
        (root / "train" / "labels" / f"{stem}.txt").write_text("\n".join(rows) + "\n")


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, Path]:
    shared = tmp_path / "shared"
    _yolo_set(
        shared / "ppe",
        ["Mask", "Hardhat", "Person"],
        {"a": ["0 0.1 0.1 0.1 0.1", "1 0.5 0.5 0.2 0.2", "2 0.5 0.6 0.4 0.8"]},
    )
    _yolo_set(shared / "fire", ["Fire", "default", "smoke"], {"b": ["2 0.3 0.3 0.2 0.2"]})
    _yolo_set(shared / "held", ["fire"], {"c": ["0 0.3 0.3 0.2 0.2"]})
    sources = {
        "labels": ["person", "head_helmet", "fire", "smoke"],
        "sources": {
            "ppe": {
                "path": "ppe",
                "role": "train",
                "train": ["train"],
                "map": {"Hardhat": "head_helmet", "Person": "person"},
            },
            "fire": {
                "path": "fire",
                "role": "train",
                "train": ["train"],
                "map": {"Fire": "fire", "smoke": "smoke"},
            },
            "held": {"path": "held", "role": "held_out", "map": {"fire": "fire"}},
        },
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    return shared, tmp_path / "sources.yaml"


def test_merge_maps_classes_to_canonical_ids_and_drops_unmapped(tmp_path, two_sets):
    shared, sources = two_sets
    data = site_merge.build(shared, tmp_path / "out", sources_yaml=sources)
    labels = tmp_path / "out" / "train" / "labels"
    # Hardhat (1) -> head_helmet (1), Person (2) -> person (0); Mask dropped
    assert (labels / "ppe__a.txt").read_text().split("\n")[:2] == [
        "1 0.5 0.5 0.2 0.2",
        "0 0.5 0.6 0.4 0.8",
    ]
    assert (labels / "fire__b.txt").read_text() == "3 0.3 0.3 0.2 0.2\n"  # smoke 2 -> 3
    link = tmp_path / "out" / "train" / "images" / "ppe__a.jpg"
    assert link.is_symlink() and link.resolve() == (shared / "ppe/train/images/a.jpg").resolve()
    assert yaml.safe_load(data.read_text())["names"] == {
        0: "person",
        1: "head_helmet",
        2: "fire",
        3: "smoke",
    }
    table = json.loads((tmp_path / "out" / "sources.json").read_text())["labelled"]
    assert table == {"ppe": [0, 1], "fire": [2, 3]}


def test_held_out_sources_are_never_trained_on(tmp_path, two_sets):
    shared, sources = two_sets
    site_merge.build(shared, tmp_path / "out", hold_out=("fire",), sources_yaml=sources)
    names = {p.name for p in (tmp_path / "out" / "train" / "images").iterdir()}
    assert names == {"ppe__a.jpg"}  # held (whole set) and fire (--hold-out) both left out
    table = (tmp_path / "out" / "sources.md").read_text()
    assert "| fire | - | fire, held |" in table


def test_a_negatives_source_counts_its_absent_labels_as_labelled_and_is_thinned(tmp_path):
    shared = tmp_path / "shared"
    _yolo_set(shared / "fire", ["fire"], {"f": ["0 0.3 0.3 0.2 0.2"]})
    _yolo_set(shared / "site", ["Person"], {f"s{i}": ["0 0.5 0.5 0.2 0.4"] for i in range(6)})
    sources = tmp_path / "sources.yaml"
    spec = {
        "labels": ["smoke", "fire"],
        "sources": {
            "fire": {"path": "fire", "role": "train", "train": ["train"], "map": {"fire": "fire"}},
            "site": {
                "path": "site",
                "role": "train",
                "train": ["train"],
                "map": {},
                "absent": ["smoke", "fire"],
                "every": 3,
            },
        },
    }
    sources.write_text(yaml.safe_dump(spec))
    site_merge.build(shared, tmp_path / "out", sources_yaml=sources)
    labels = tmp_path / "out" / "train" / "labels"
    assert sorted(p.name for p in labels.glob("site__*")) == ["site__s0.txt", "site__s3.txt"]
    assert (labels / "site__s0.txt").read_text() == ""  # its people are not a label here
    table = json.loads((tmp_path / "out" / "sources.json").read_text())["labelled"]
    assert table == {"fire": [1], "site": [0, 1]}  # the loss treats its scenes as negatives
    assert "site (2 / 0, none boxed)" in (tmp_path / "out" / "sources.md").read_text()
    spec["sources"]["site"]["absent"] = ["mask"]
    sources.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="not site-model labels"):
        site_merge.load_sources(sources)


def test_a_map_onto_an_unknown_label_or_class_is_refused(tmp_path, two_sets):
    shared, sources = two_sets
    with pytest.raises(ValueError, match="not site-model labels"):
        bad = yaml.safe_load(sources.read_text())
        bad["sources"]["ppe"]["map"]["Mask"] = "mask"
        sources.write_text(yaml.safe_dump(bad))
        site_merge.load_sources(sources)
    with pytest.raises(ValueError, match="not in the set"):
        site_merge.id_map(["Fire"], {"fire": "fire"}, ("fire",))


@pytest.mark.needs_footage
def test_every_shipped_source_maps_onto_its_real_classes():
    labels, sources = site_merge.load_sources()
    assert set(labels) == {
        "person",
        "head_helmet",
        "head_bare",
        "vest",
        "no_vest",
        "person_fallen",
        "smoke",
        "fire",
        "vehicle",
        "machinery",
    }
    for s in sources.values():
        site_merge.id_map(site_merge.set_class_names(SHARED_DATA / s.path), s.class_map, labels)
    held = {
        label for s in sources.values() if s.role == "held_out" for label in s.class_map.values()
    }
    assert {"head_helmet", "head_bare", "person_fallen", "fire", "smoke"} <= held
    labels, sources = site_merge.load_sources(KIT / "fire_smoke_sources.yaml")
    assert labels == ("smoke", "fire")
    for s in sources.values():
        site_merge.id_map(site_merge.set_class_names(SHARED_DATA / s.path), s.class_map, labels)
    assert {s.name for s in sources.values() if s.role == "held_out"} == {
        "indoor_sinchana",
        "hiwia",
    }
    labels, sources = site_merge.load_sources(KIT / "vest_sources.yaml")
    assert labels[:3] == ("head_helmet", "head_bare", "person")  # site_ppe's order: it widens
    for s in sources.values():
        site_merge.id_map(site_merge.set_class_names(SHARED_DATA / s.path), s.class_map, labels)


def _loss_and_score_grad(labelled: dict, im_files: list[str]) -> tuple[float, torch.Tensor]:
    """Masked cls loss of a real YOLOv8n (3 classes) on two images, and d loss / d logits."""
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    model.args = get_cfg()
    model.train()
    preds = model(torch.rand(2, 3, 64, 64))
    preds["scores"].retain_grad()
    batch = {  # one box per image, both of class 0 (person)
        "im_file": im_files,
        "batch_idx": torch.tensor([0.0, 1.0]),
        "cls": torch.tensor([[0.0], [0.0]]),
        "bboxes": torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]]),
    }
    criterion = site_loss.masked_loss_class()(model, labelled)
    _, loss, _ = criterion.get_assigned_targets_and_loss(preds, batch)  # box, cls, dfl
    loss[1].backward()
    return float(loss[1].detach()), preds["scores"].grad  # grad: (batch, nc, anchors)


def test_masked_class_gets_no_gradient_on_a_source_that_does_not_label_it():
    # image 0 from "fire" (labels only class 2), image 1 from "ppe" (labels 0 and 1)
    table = {"fire": [2], "ppe": [0, 1]}
    loss, grad = _loss_and_score_grad(table, ["/x/fire__a.jpg", "/x/ppe__b.jpg"])
    assert loss > 0
    assert torch.count_nonzero(grad[0, 0]) == 0 and torch.count_nonzero(grad[0, 1]) == 0
    assert torch.count_nonzero(grad[0, 2]) > 0  # its own class still learns
    assert torch.count_nonzero(grad[1, 0]) > 0 and torch.count_nonzero(grad[1, 1]) > 0
    assert torch.count_nonzero(grad[1, 2]) == 0


def test_without_the_mask_every_class_gets_a_gradient():
    # an unknown source keeps all classes: the same images now push class 0 and 1 on image 0
    loss_all, grad = _loss_and_score_grad({}, ["/x/fire__a.jpg", "/x/ppe__b.jpg"])
    assert torch.count_nonzero(grad[0, 0]) > 0 and torch.count_nonzero(grad[0, 1]) > 0
    masked, _ = _loss_and_score_grad(
        {"fire": [2], "ppe": [0, 1]}, ["/x/fire__a.jpg", "/x/ppe__b.jpg"]
    )
    assert masked < loss_all


def test_class_mask_rows():
    m = site_loss.class_mask(
        ["/c/a__1.jpg", "/c/b__2.jpg", "/c/c__3.jpg"], {"a": [0], "b": [1, 2]}, 3
    )
    assert m.shape == (3, 1, 3)
    assert m[:, 0].tolist() == [[1, 0, 0], [0, 1, 1], [1, 1, 1]]


def _class_scores(model, image: torch.Tensor) -> torch.Tensor:
    """(classes, anchors) sigmoid scores of a DetectionModel in eval mode."""
    model.eval()
    with torch.no_grad():
        out = model(image)
    return (out[0] if isinstance(out, (list, tuple)) else out)[0, 4:]


def test_a_widened_head_scores_the_old_classes_as_before_and_adds_the_new():
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    old = DetectionModel("yolov8n.yaml", nc=2, verbose=False)
    old.names = {0: "head_helmet", 1: "person"}
    image = torch.rand(1, 3, 64, 64)
    before = _class_scores(old, image)
    wide = widen_head.widen(old, ["person", "vest", "head_helmet"])
    after = _class_scores(wide, image)
    assert wide.names == {0: "person", 1: "vest", 2: "head_helmet"}
    assert torch.allclose(after[2], before[0]) and torch.allclose(after[0], before[1])
    assert after.shape[0] == 3 and not torch.allclose(after[1], after[0])


def test_widening_must_keep_every_old_label():
    from ultralytics.nn.tasks import DetectionModel

    old = DetectionModel("yolov8n.yaml", nc=2, verbose=False)
    old.names = {0: "head_helmet", 1: "person"}
    with pytest.raises(SystemExit, match="drop"):
        widen_head.widen(old, ["person", "vest"])


@pytest.mark.parametrize("module", [site_merge, site_loss])
def test_docstring_examples(module):
    import doctest

    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(
    ("card", "sources"),
    [
        ("site_model_card.yaml", "sources.yaml"),
        ("fire_smoke_open_card.yaml", "fire_smoke_sources.yaml"),
        ("site_ppe_hhw/site_ppe.yaml", "helmet_sources.yaml"),
        ("site_ppe_vest/site_ppe.yaml", "vest_sources.yaml"),
    ],
)
def test_the_kits_cards_are_valid_cards_of_their_sources_labels(card, sources):
    from vigil.detector.cards import load_card

    loaded = load_card(KIT / card)
    labels, _ = site_merge.load_sources(KIT / sources)
    assert set(loaded.class_map) == set(labels) == set(loaded.class_map.values())
