"""Where incidents, dispatches and pipeline statistics are kept."""

from pydantic import BaseModel, ConfigDict, Field


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        "sqlite:///var/citybrain.db",
        title="SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
    )
    stats_keep_s: float = Field(
        86_400.0,
        gt=0,
        title="Counters of a worker that stopped writing them are deleted after this long "
        "(each restart is a new worker row)",
    )
    auto_migrate: bool = Field(
        True,
        title="At start, the jobs and the web upgrade the database to this code's schema "
        "(under a lock). On for the embedded demo; in production set it false and run "
        "`citybrain db upgrade` once before the rollout (docs/OPERATIONS.md)",
    )
