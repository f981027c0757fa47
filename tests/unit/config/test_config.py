import shutil
from pathlib import Path

import pytest

from citybrain.city_loading import load_all
from citybrain.config import load_settings
from citybrain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_sample_city_loads(settings_and_city: tuple) -> None:  # type: ignore[type-arg]
    _, city = settings_and_city
    assert len(city.districts) == 6 and len(city.cameras) == 12
    for cam in city.cameras:  # every camera sits inside the district it claims
        found = city.district_at(cam.lon, cam.lat)
        assert found is not None and found.id == cam.district


def test_env_overrides_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_KAFKA__TOPIC_PREFIX", "replay1")
    monkeypatch.setenv("CITYBRAIN_VISION__BATCH_SIZE", "3")
    s = load_settings(ROOT / "config" / "citybrain.yaml")
    assert s.kafka.topic_prefix == "replay1"
    assert s.vision.batch_size == 3


def _broken_city(tmp_path: Path) -> Path:
    city = tmp_path / "city"
    shutil.copytree(ROOT / "config" / "city", city)
    cams = city / "cameras.yaml"
    cams.write_text(
        cams.read_text().replace("district: gaoxin, zones", "district: atlantis, zones", 1)
    )
    tax = city / "taxonomy.yaml"
    tax.write_text(tax.read_text().replace("sla_minutes: 60", "sla_minutes: -5"))
    deps = city / "departments.yaml"
    deps.write_text(deps.read_text().replace("department: fire_rescue}", "department: firemen}"))
    cfg = tmp_path / "citybrain.yaml"
    cfg.write_text(f"city:\n  dir: {city}\nkafka:\n  partitions: 0\n  bogus: 1\n")
    return cfg


def test_settings_errors_name_file_and_line(tmp_path: Path) -> None:
    cfg = _broken_city(tmp_path)
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert f"{cfg}:4: kafka.partitions" in e.value.problems[0]
    assert f"{cfg}:5: kafka.bogus: Extra inputs are not permitted" in e.value.problems[1]


def test_every_city_error_is_reported_with_its_line(tmp_path: Path) -> None:
    cfg = _broken_city(tmp_path)
    cfg.write_text(cfg.read_text().split("kafka:")[0])
    with pytest.raises(ConfigError) as e:
        load_all(cfg)
    problems = "\n".join(e.value.problems)
    city = tmp_path / "city"
    tax_line = next(
        i
        for i, line in enumerate((city / "taxonomy.yaml").read_text().splitlines(), 1)
        if "sla_minutes: -5" in line
    )
    assert f"{city}/taxonomy.yaml:{tax_line}: categories.1.sla_minutes" in problems
    cam_line = next(
        i
        for i, line in enumerate((city / "cameras.yaml").read_text().splitlines(), 1)
        if "atlantis" in line
    )
    assert (
        f"{city}/cameras.yaml:{cam_line}: cameras.10.district: unknown district 'atlantis'"
        in problems
    )
    assert (
        "departments.yaml:20: responsibilities.2.department: unknown department 'firemen'"
        in problems
    )
    assert len(e.value.problems) == 3


def test_yaml_syntax_error_is_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert str(cfg) in e.value.problems[0]


def test_invalid_section_is_reported_not_crashed_on(tmp_path: Path) -> None:
    """A section that fails validation is left out of the cross-file checks, not dereferenced."""
    city = tmp_path / "city"
    shutil.copytree(ROOT / "config" / "city", city)
    deps = city / "departments.yaml"
    deps.write_text(deps.read_text().replace("district: xicheng,", "district: [1, 2],", 1))
    cfg = tmp_path / "citybrain.yaml"
    cfg.write_text(f"city:\n  dir: {city}\n")
    with pytest.raises(ConfigError) as e:
        load_all(cfg)
    assert any("departments.yaml:22: responsibilities" in p for p in e.value.problems)


def test_camera_rules_must_name_what_the_city_has(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"city: {{dir: {Path('config/city').resolve()}}}\n"
        "rules:\n"
        "  categories: {meteor: {open_k: 1}}\n"
        "  overrides:\n"
        "    - {camera: cam-99, open_k: 1}\n"
        "    - {camera: cam-01, zone: roof, category: pothole}\n"
        "    - {camera: cam-02, open_k: 9}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_all(cfg)
    got = [p.removeprefix(f"{cfg}: ") for p in e.value.problems]
    assert got[:3] == [
        "rules.categories.meteor: unknown category 'meteor'",
        "rules.overrides.0.camera: unknown camera 'cam-99'",
        "rules.overrides.1.zone: camera 'cam-01' has no zone 'roof'",
    ]
    assert got[3].startswith("rules.overrides.2:") and "open_k (9) cannot exceed" in got[3]


def test_a_triton_retry_schedule_longer_than_the_poll_interval_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two Triton calls a batch, each with its retries, must end inside max_poll_interval, or
    a slow server gets the vision worker evicted from its group."""
    monkeypatch.setenv("CITYBRAIN_VISION__TRITON__RETRY_BUDGET_S", "6")
    with pytest.raises(ConfigError) as e:
        load_settings(ROOT / "config" / "citybrain.yaml")
    assert "retry_budget_s" in str(e.value) and "max_poll_interval_ms" in str(e.value)
    monkeypatch.setenv("CITYBRAIN_KAFKA__MAX_POLL_INTERVAL_MS", "20000")
    assert load_settings(ROOT / "config" / "citybrain.yaml").vision.triton.retry_budget_s == 6
