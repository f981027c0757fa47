"""Observation ids: the same evidence always gets the same id (a replay is idempotent), and
different evidence never shares one, even when a camera's sequence restarts after a reboot or
two ticket channels number their tickets from 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citybrain.core.ids import camera_observation_id, ticket_observation_id

T = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def test_a_restarted_camera_sequence_does_not_collide() -> None:
    before = camera_observation_id("cam-01", 1, "flooding", "roadway", T)
    after_reboot = camera_observation_id("cam-01", 1, "flooding", "roadway", T + timedelta(hours=3))
    assert before != after_reboot
    assert before == camera_observation_id("cam-01", 1, "flooding", "roadway", T)  # replay


def test_two_channels_numbering_from_one_do_not_collide() -> None:
    hotline = ticket_observation_id("hotline", "1")
    app = ticket_observation_id("app", "1")
    assert hotline != app
    assert hotline == ticket_observation_id("hotline", "1")  # a resend or a replay
