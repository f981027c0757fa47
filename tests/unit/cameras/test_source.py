"""Where a camera's stream is: credentials from the environment, percent-encoded into the URL
FFmpeg gets and nowhere else; a stream URL with credentials in the YAML is refused."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from pydantic import ValidationError

from citybrain.cameras.errors import MissingCredentials
from citybrain.cameras.source import StreamSource
from citybrain.core.city import Camera

PASSWORD = "p@ss:w/rd %?#&'\"é"
ENV = {"CITYBRAIN_CAMERA_GATE_USERNAME": "ops@city", "CITYBRAIN_CAMERA_GATE_PASSWORD": PASSWORD}


def test_credentials_join_the_url_encoded_and_only_there() -> None:
    src = StreamSource("cam-01", "rtsp://10.0.0.7:554/stream1", "GATE", environ=ENV)
    url = urlsplit(src.url())
    assert (unquote(url.username or ""), unquote(url.password or "")) == ("ops@city", PASSWORD)
    assert url.hostname == "10.0.0.7" and url.port == 554 and url.path == "/stream1"
    assert PASSWORD not in src.public and "ops" not in repr(src)
    text = f"cannot open {src.url()} (user ops@city, password {PASSWORD})"
    scrubbed = src.scrub(text)
    assert PASSWORD not in scrubbed and "p%40ss" not in scrubbed and "ops@city" not in scrubbed


def test_missing_credentials_name_the_variable_not_a_secret() -> None:
    src = StreamSource("cam-01", "rtsp://10.0.0.7/s", "OTHER", environ=ENV)
    with pytest.raises(MissingCredentials, match="CITYBRAIN_CAMERA_OTHER_USERNAME is not set"):
        src.url()


@pytest.mark.parametrize(
    ("stream", "is_file"),
    [
        ("rtsp://10.0.0.7/s", False),
        ("https://cams.city/x.m3u8", False),
        ("http://10.0.0.8/mjpeg", False),
        ("/data/recorded/cam-01.mp4", True),
        ("file:///data/cam.mp4", True),
    ],
)
def test_files_and_network_streams(stream: str, is_file: bool) -> None:
    src = StreamSource("cam-01", stream, "GATE", environ=ENV)
    assert src.is_file is is_file
    assert (PASSWORD in unquote(src.url())) is (not is_file)


def test_a_stream_with_credentials_in_the_yaml_is_refused() -> None:
    fields = {"id": "cam-01", "name": "x", "lon": 120.1, "lat": 30.2, "district": "d"}
    with pytest.raises(ValidationError) as e:
        Camera.model_validate({**fields, "stream": f"rtsp://admin:{PASSWORD}@10.0.0.7/s"})
    msgs = " ".join(err["msg"] for err in e.value.errors())
    assert "credentials" in msgs and PASSWORD not in msgs
    assert Camera.model_validate({**fields, "stream": "rtsp://10.0.0.7/s@x"}).stream
