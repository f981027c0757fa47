"""Each job's spec is found through the package's entry points and describes its stage."""

from __future__ import annotations

import pytest

from citybrain.config import Settings
from citybrain.streams.jobs import JOBS, job_spec
from citybrain.streams.topics import Topics


def test_every_job_has_a_spec_beside_its_stage(settings: Settings) -> None:
    t = Topics("p")
    inputs = {job: job_spec(job).inputs(t) for job in JOBS}
    assert inputs == {
        "vision": ["p.frames"],
        "tickets": ["p.tickets"],
        "incidents": ["p.observations", "p.feedback"],
        "dispatch": ["p.incidents"],
    }
    assert job_spec("vision").max_poll_records(settings) == settings.vision.batch_size
    assert job_spec("dispatch").max_poll_records(settings) == settings.dispatch.batch_size
    for job in JOBS:
        assert job_spec(job).name == job


def test_an_unknown_job_is_refused_with_the_jobs_there_are() -> None:
    with pytest.raises(ValueError, match="unknown job 'nope'; jobs: dispatch, incidents"):
        job_spec("nope")
