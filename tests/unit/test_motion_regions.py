"""Motion regions (gating ``crop``): a due model runs on crops around what moved; its boxes
elsewhere are carried (synthetic frames, a pixel-reading stand-in model, and the real fall
model on a crop)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv
from test_pipeline import CARDS

from vigil.config import SiteConfig
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.gating import AnalysisGate, GatingSettings
from vigil.pipeline import CameraPipeline
from vigil.regions import Region, combine, plan_regions, shift_from
from vigil.streams.frame import Frame

SHAPE = (360, 640)
CROP = GatingSettings(full_pass_seconds=5.0, crop=True, crop_max_area=0.5)


def scene(*squares: tuple[int, int, int]) -> np.ndarray:
    """A still grey scene with bright squares (x, y, side) in it."""
    image = np.full((*SHAPE, 3), 90, np.uint8)
    for x, y, side in squares:
        image[y : y + side, x : x + side] = 240
    return image


def gate(settings: GatingSettings = CROP) -> AnalysisGate:
    return AnalysisGate(settings, {"fall": 2.0}, 2.0, {"fall": 640})


def regions_after(first: np.ndarray, second: np.ndarray, g: AnalysisGate | None = None):
    g = g or gate()
    assert g.plan(first, 0.0) == {"fall": None}  # the first frame: a full pass
    assert g.plan(second, 0.5) == {"fall": None}
    return g.regions.get("fall")


def contains(region: Region, xyxy: tuple[float, float, float, float]) -> bool:
    return (
        region.x1 <= xyxy[0]
        and region.y1 <= xyxy[1]
        and xyxy[2] <= region.x2
        and (xyxy[3] <= region.y2)
    )


def test_a_moving_square_in_a_still_scene_gives_one_square_region_around_it():
    (region,) = regions_after(scene((300, 100, 40)), scene((310, 100, 40)))
    assert region.x2 - region.x1 == region.y2 - region.y1 == 160  # the smallest crop
    assert contains(region, (300, 100, 350, 140))  # where it was and where it is
    assert region.imgsz == 160  # at the full pass's scale (640 px frame, imgsz 640)


def test_a_large_mover_gets_a_larger_region_at_the_same_scale():
    (region,) = regions_after(scene((200, 60, 120)), scene((210, 70, 120)))
    side = region.x2 - region.x1
    assert side == region.y2 - region.y1 and 130 <= side <= 256
    assert contains(region, (200, 60, 330, 190))
    assert region.imgsz == side  # frame pixels = model pixels here


def test_two_far_movers_get_two_regions_and_two_near_ones_one():
    far = regions_after(scene((40, 40, 30), (560, 280, 30)), scene((45, 40, 30), (565, 280, 30)))
    assert len(far) == 2
    assert contains(far[0], (40, 40, 75, 70)) and contains(far[1], (560, 280, 595, 310))
    near = regions_after(
        scene((200, 100, 30), (300, 100, 30)), scene((205, 100, 30), (305, 100, 30))
    )
    (merged,) = near
    assert contains(merged, (200, 100, 335, 130))


def test_motion_over_much_of_the_frame_is_a_full_pass():
    g = gate()
    assert regions_after(scene(), scene((40, 20, 320)), g) is None
    assert g.cropped["fall"] == 0


def test_the_full_pass_comes_every_full_pass_seconds_while_things_move():
    g = gate()
    cropped = []
    for i in range(12):  # a small square drifting for 6 s at 2 fps
        assert g.plan(scene((100 + 8 * i, 100, 40)), i / 2) == {"fall": None}
        cropped.append("fall" in g.regions)
    assert cropped == [False] + [True] * 9 + [False, True]  # t = 0 and t = 5 in full


def test_a_crop_updates_what_the_model_saw_only_inside_the_regions():
    g = gate()
    g.plan(scene(), 0.0)
    g.plan(scene((300, 100, 40)), 0.5)  # cropped around the square
    # The square stays; a small change elsewhere since the full pass is still unseen there.
    assert g.plan(scene((300, 100, 40)), 1.0) == {"fall": "still"}
    g.plan(scene((300, 100, 40), (20, 300, 30)), 1.5)
    (region,) = g.regions["fall"]
    assert contains(region, (20, 300, 50, 330))


def test_crop_off_keeps_whole_frame_gating():
    g = gate(GatingSettings(full_pass_seconds=5.0))
    assert regions_after(scene((300, 100, 40)), scene((310, 100, 40)), g) is None


def test_regions_grow_over_the_last_box_of_the_object_that_moved():
    # Only an arm moved (small box), the model last saw the whole person beside it.
    person = np.array([[300.0, 60, 360, 300]])
    (region,) = plan_regions(np.array([[350.0, 150, 370, 170]]), person, SHAPE, 640, 0.5)
    assert contains(region, (300, 60, 360, 300))


def test_crop_detections_are_shifted_to_the_frame_and_inner_edge_cuts_dropped():
    found = sv.Detections(
        xyxy=np.array([[10.0, 10, 40, 60], [0, 20, 30, 60], [100, 100, 160, 150]]),
        confidence=np.ones(3),
    )
    inner = shift_from(found, Region(200, 100, 360, 260, 160), SHAPE)
    assert inner.xyxy.tolist() == [[210, 110, 240, 160]]  # the others touch an inner edge
    at_corner = shift_from(found, Region(480, 200, 640, 360, 160), SHAPE)
    # Right and bottom are the frame's: a box there is whole, the left-edge one is cut.
    assert at_corner.xyxy.tolist() == [[490, 210, 520, 260], [580, 300, 640, 350]]


def labelled(*xyxy, label: str = "person") -> sv.Detections:
    n = len(xyxy)
    return sv.Detections(
        xyxy=np.array(xyxy, dtype=float).reshape(-1, 4),
        confidence=np.full(n, 0.9),
        data={"label": np.array([label] * n, object), "model": np.array(["fall"] * n, object)},
    )


def test_carried_boxes_outside_the_regions_stay_and_inside_are_replaced():
    held = labelled([10, 10, 50, 90], [210, 110, 250, 190], [195, 110, 245, 190])
    fresh = labelled([220, 110, 260, 190])
    region = Region(200, 100, 360, 260, 160)
    kept = combine(held, fresh, [region]).xyxy.tolist()
    # Outside: kept. Inside: replaced. Across the region's edge and overlapping the new box
    # (the same person, now found whole in the crop): replaced too.
    assert kept == [[10, 10, 50, 90], [220, 110, 260, 190]]
    across = labelled([150, 300, 230, 350])  # across the edge, nothing new on it: carried
    assert combine(across, fresh, [region]).xyxy.tolist() == [
        [150, 300, 230, 350],
        [220, 110, 260, 190],
    ]


class Squares:
    """A stand-in model that reads the pixels: each bright blob of the image it is given is a
    person, in that image's coordinates."""

    def __init__(self) -> None:
        self.card, self.name = CARDS["fall"], "fall"
        self.inputs: list[tuple[tuple[int, int], int | None]] = []

    def at_size(self, image: np.ndarray, imgsz: int | None) -> sv.Detections:
        self.inputs.append((image.shape[:2], imgsz))
        mask = (image[..., 0] > 200).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        return labelled(*[(x, y, x + w, y + h) for x, y, w, h, _ in stats[1:n]])

    def __call__(self, image: np.ndarray) -> sv.Detections:
        return self.at_size(image, None)

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return [self(image) for image in images]


def test_the_pipeline_runs_the_model_on_the_crop_and_carries_the_rest():
    rules = build_rules(RulesConfig.model_validate({"fall": {}}))
    model = Squares()
    pipeline = CameraPipeline("cam", rules, [model], fps=2, gating=CROP)
    frames = [scene((40, 40, 40), (400, 200, 40)), scene((40, 40, 40), (410, 205, 40))]
    boxes = []
    for i, image in enumerate(frames):
        analysis = pipeline.analyse(Frame(image, pts=i / 2, wall=i / 2, camera="cam", index=i))
        boxes.append(sorted(analysis.detections.xyxy.tolist()))
    assert model.inputs == [(SHAPE, None), ((160, 160), 160)]  # the whole frame, then a crop
    assert boxes[0] == [[40, 40, 80, 80], [400, 200, 440, 240]]
    # The still square carried, the moving one found in the crop, in frame coordinates.
    assert boxes[1] == [[40, 40, 80, 80], [410, 205, 450, 245]]
    assert pipeline.gate.cropped["fall"] == 1


def test_the_real_model_finds_the_same_person_in_a_crop_as_in_the_full_pass():
    from ultralytics.utils import ASSETS

    from vigil.detector.cards import load_cards
    from vigil.detector.detector import load_detector

    image = cv2.imread(str(ASSETS / "bus.jpg"))  # 810 x 1080
    detector = load_detector(load_cards()["fall"])
    full = detector(image)
    person = full.xyxy[np.argmin(full.area)]  # the smallest: its region fits the frame
    (region,) = plan_regions(person[None], np.zeros((0, 4)), image.shape[:2], 640, 0.9)
    assert contains(region, tuple(person))
    found = shift_from(detector.at_size(region.crop(image), region.imgsz), region, image.shape[:2])
    iou = sv.box_iou_batch(person[None], found.xyxy) if len(found) else np.zeros((1, 1))
    assert iou.max() > 0.8


def test_crop_settings_come_from_the_site_and_are_checked():
    site = SiteConfig.model_validate(
        {
            "cameras": [{"id": "a", "source": "rtsp://h/a"}],
            "gating": {"crop": True, "crop_max_area": 0.3},
        }
    )
    settings = site.gating_of(site.cameras[0]).settings()
    assert settings.crop and settings.crop_max_area == 0.3
    with pytest.raises(ValueError, match="crop_max_area"):
        SiteConfig.model_validate(
            {"cameras": [{"id": "a", "source": "rtsp://h/a"}], "gating": {"crop_max_area": 0}}
        )
