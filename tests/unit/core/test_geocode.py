import pytest

from citybrain.core.city import City
from citybrain.core.geocode import Geocoder
from citybrain.core.messages import GeoPoint


@pytest.mark.parametrize(
    ("text", "lon", "lat", "district"),
    [
        ("Flooding at Xinhua Road and Zhongshan Road", 120.128, 30.287, "xicheng"),
        ("新华路与中山路交叉口积水", 120.128, 30.287, "xicheng"),
        ("pothole on Xinhau Road near Zhongsan Road", 120.128, 30.287, "xicheng"),  # aliases
        ("pothole at Wenhva Road / Heping Road", 120.168, 30.235, "jiangbin"),  # fuzzy
        ("bins overflowing near Central Park", 120.160, 30.280, "beicheng"),
        ("中央公园附近垃圾满了", 120.160, 30.280, "beicheng"),
    ],
)
def test_named_places_become_points(
    city: City, text: str, lon: float, lat: float, district: str
) -> None:
    loc = Geocoder(city).locate(text)
    assert loc.precision == "point"
    assert loc.point is not None
    assert (round(loc.point.lon, 4), round(loc.point.lat, 4)) == (lon, lat)
    assert loc.district == district


def test_district_only(city: City) -> None:
    loc = Geocoder(city).locate("somewhere in Gaoxin district the lamp is out")
    assert (loc.precision, loc.district, loc.point) == ("district", "gaoxin", None)
    assert Geocoder(city).locate("东城区路灯不亮").district == "dongcheng"


def test_one_street_is_not_a_place(city: City) -> None:
    loc = Geocoder(city).locate("pothole on Renmin Road")
    assert loc.precision == "street"
    assert loc.district is None


def test_nothing_found_is_unlocated(city: City) -> None:
    loc = Geocoder(city).locate("outside my flat")
    assert (loc.precision, loc.district) == ("unlocated", None)


def test_reporter_point_wins_and_outside_city_is_unlocated(city: City) -> None:
    g = Geocoder(city)
    inside = g.locate("Central Park", GeoPoint(lon=120.2, lat=30.23))
    assert (inside.precision, inside.district) == ("point", "gaoxin")
    outside = g.locate("Central Park", GeoPoint(lon=121.5, lat=31.2))
    assert (outside.precision, outside.district, outside.point) == ("unlocated", None, None)
