import numpy as np
import pytest
import supervision as sv
from pydantic import ValidationError

from vigil.events.zones import Zone, ZoneSet

# A band across the lower half of a 200 x 200 frame.
FLOOR = Zone(name="floor", polygon=[(0, 100), (200, 100), (200, 200), (0, 200)])
LEFT = Zone(name="left", polygon=[(0, 0), (100, 0), (100, 200), (0, 200)])


def boxes(*xyxy: tuple[float, float, float, float]) -> sv.Detections:
    return sv.Detections(xyxy=np.array(xyxy, dtype=float).reshape(-1, 4))


def test_zone_needs_three_points_and_names_itself():
    expected = "zone 'tank-farm': polygon needs at least 3 points, got 2"
    with pytest.raises(ValidationError, match=expected):
        Zone(name="tank-farm", polygon=[(0, 0), (10, 10)])


@pytest.mark.parametrize(
    "polygon",
    [
        [(0, 0), (10, 10), (20, 20)],  # collinear
        [(5, 5), (5, 5), (5, 5), (5, 5)],  # one point repeated
    ],
)
def test_degenerate_zone_is_rejected(polygon):
    with pytest.raises(ValidationError, match="zone 'pit': polygon has zero area"):
        Zone(name="pit", polygon=polygon)


def test_negative_coordinates_are_rejected():
    expected = r"zone 'pit': point \(-5, 3\) lies outside the frame"
    with pytest.raises(ValidationError, match=expected):
        Zone(name="pit", polygon=[(-5, 3), (10, 0), (10, 10)])


def test_zone_area():
    assert FLOOR.area == 200 * 100


def test_anchor_is_bottom_centre_not_box_centre():
    zones = ZoneSet([FLOOR])
    # Centre (100, 60) is above the band, but the feet (100, 120) stand in it.
    tall = boxes((80, 0, 120, 120))
    # Centre (100, 130) is in the band, but the feet (100, 260) are below it.
    low = boxes((80, 0, 120, 260))
    assert zones.inside(tall).tolist() == [True]
    assert zones.inside(low).tolist() == [False]
    by_centre = ZoneSet([FLOOR], anchor=sv.Position.CENTER)
    assert by_centre.inside(tall).tolist() == [False]
    assert by_centre.inside(low).tolist() == [True]


def test_membership_per_zone_and_overlaps():
    zones = ZoneSet([FLOOR, LEFT])
    d = boxes((10, 50, 30, 150), (150, 50, 170, 150), (150, 0, 170, 50), (10, 0, 30, 50))
    assert zones.names == ("floor", "left")
    assert zones.membership(d).tolist() == [
        [True, True],
        [True, False],
        [False, False],
        [False, True],
    ]
    assert zones.zones_of(d) == [["floor", "left"], ["floor"], [], ["left"]]


def test_no_zones_means_whole_frame():
    zones = ZoneSet(None)
    assert zones.whole_frame
    assert zones.names == (None,)
    assert zones.zones_of(boxes((0, 0, 5, 5), (500, 500, 900, 900))) == [[None], [None]]
    assert ZoneSet([]).whole_frame


def test_empty_detections():
    assert ZoneSet([FLOOR, LEFT]).membership(sv.Detections.empty()).shape == (0, 2)
    assert ZoneSet().membership(sv.Detections.empty()).shape == (0, 1)
    assert ZoneSet([FLOOR]).zones_of(sv.Detections.empty()) == []


def test_float_polygon_and_boxes_outside_the_polygon_bounds():
    zone = Zone(name="z", polygon=[(10.4, 10.4), (50.6, 10.4), (50.6, 50.6), (10.4, 50.6)])
    d = boxes((20, 20, 40, 40), (900, 900, 950, 950))
    assert ZoneSet([zone]).inside(d).tolist() == [True, False]


# --- issue 12, finding 3: zones cost no memory per pixel, and bad coordinates are refused ---


def test_a_frame_sized_zone_allocates_no_mask():
    import tracemalloc

    side = 16384.0  # the largest coordinate accepted: a mask would take 268 MB
    zone = Zone(name="all", polygon=[(0, 0), (side, 0), (side, side), (0, side)])
    people = boxes(*[(x, x, x + 40, x + 90) for x in range(0, 16000, 160)])
    tracemalloc.start()
    try:
        inside = ZoneSet([zone]).inside(people)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert inside.all() and len(inside) == 100
    assert peak < 2_000_000, f"{peak} bytes for 100 boxes"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_coordinates_are_rejected(bad: float):
    with pytest.raises(ValidationError, match="zone 'pit': point .* is not a finite number"):
        Zone(name="pit", polygon=[(0, 0), (bad, 0), (10, 10)])


@pytest.mark.parametrize("far", [16385.0, 1e6])
def test_coordinates_past_any_frame_are_rejected(far: float):
    with pytest.raises(ValidationError, match=r"lies outside any frame .*at most 16384\)"):
        Zone(name="pit", polygon=[(0, 0), (far, 0), (far, far)])


def test_a_zone_the_frame_does_not_show_is_warned_about_once(caplog: pytest.LogCaptureFixture):
    from vigil.events.zones import warn_zones_off_frame

    far = Zone(name="far", polygon=[(700, 500), (900, 500), (900, 600)])
    # Its bounding box overlaps a 640 x 640 frame, the triangle itself does not.
    corner = Zone(name="corner", polygon=[(0, 1400), (1400, 0), (1400, 1400)])
    with caplog.at_level("WARNING", logger="vigil.events.zones"):
        missing = warn_zones_off_frame("gate-3", [FLOOR, far, corner, far], (640, 640, 3))
    assert missing == ["far", "corner"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "\n" not in "".join(lines)
    assert "camera gate-3: zone 'far' lies wholly outside the 640x640 frame" in lines[0]
    assert warn_zones_off_frame("gate-3", [FLOOR], (200, 200)) == []
    assert FLOOR.area_in_frame(200, 150) == 200 * 50


def test_the_pipeline_warns_at_the_first_frame(caplog: pytest.LogCaptureFixture):
    from vigil.events.rules import build_rules
    from vigil.events.rules.params import RulesConfig
    from vigil.pipeline import CameraPipeline
    from vigil.streams.frame import Frame

    zone = {"name": "yard", "polygon": [[2000, 2000], [2100, 2000], [2100, 2100]]}
    rules = build_rules(RulesConfig.model_validate({"restricted_zone": {"zones": [zone]}}))
    pipeline = CameraPipeline("gate-3", rules, [], fps=2)
    image = np.zeros((480, 640, 3), np.uint8)
    with caplog.at_level("WARNING", logger="vigil.events.zones"):
        for i in range(3):
            pipeline.analyse(
                Frame(image=image, pts=i / 2, wall=1e9 + i / 2, camera="gate-3", index=i)
            )
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("camera gate-3: zone 'yard' lies wholly outside the 640x480 frame")


def test_inside_agrees_with_opencv_on_random_polygons():
    import cv2

    rng = np.random.default_rng(12)
    for _ in range(20):
        # A star-shaped (so simple) polygon of 3 to 12 vertices around a random centre.
        n = int(rng.integers(3, 13))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(20, 200, n)
        centre = rng.uniform(200, 400, 2)
        polygon = centre + np.c_[np.cos(angles), np.sin(angles)] * radii[:, None]
        points = rng.uniform(0, 600, (300, 2))
        contour = polygon.astype(np.float32).reshape(-1, 1, 2)
        distance = np.array([cv2.pointPolygonTest(contour, tuple(p), True) for p in points])
        clear = np.abs(distance) > 1.0  # away from the edge, where rounding may differ
        zone = Zone(name="z", polygon=[tuple(p) for p in polygon])
        assert (zone.contains(points)[clear] == (distance[clear] > 0)).all()
