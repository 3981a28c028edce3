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
