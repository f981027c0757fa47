"""The one settings tree: YAML file, then CITYBRAIN_* environment variables on top."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from citybrain.config.cameras import CameraGatewaySettings
from citybrain.config.dispatch import DispatchSettings
from citybrain.config.hot_issues import HotIssueSettings
from citybrain.config.hotspots import HotspotSettings
from citybrain.config.incidents import IncidentSettings
from citybrain.config.kafka import BrokerSettings, KafkaSettings
from citybrain.config.llm import LLMSettings
from citybrain.config.rules import CameraRuleSettings
from citybrain.config.simulator import SimulatorSettings
from citybrain.config.store import StoreSettings
from citybrain.config.tickets import TicketSettings
from citybrain.config.vision import VisionSettings
from citybrain.config.web import WebSettings
from citybrain.config.workers import WorkerSettings


class CitySource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: Path = Field(Path("config/city"), title="Folder with the city's GeoJSON and YAML files")
    name: str = Field("Sample City", title="City name")
    name_zh: str = Field("", title="Chinese city name (pages in Chinese; empty = `name`)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYBRAIN_", env_nested_delimiter="__", extra="forbid"
    )

    city: CitySource = Field(default_factory=CitySource, title="The city's data files")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings, title="Kafka")
    broker: BrokerSettings = Field(default_factory=BrokerSettings, title="Embedded broker")
    vision: VisionSettings = Field(default_factory=VisionSettings, title="Vision pipeline")
    tickets: TicketSettings = Field(default_factory=TicketSettings, title="Ticket pipeline")
    incidents: IncidentSettings = Field(default_factory=IncidentSettings, title="Incidents")
    store: StoreSettings = Field(default_factory=StoreSettings, title="Store")
    web: WebSettings = Field(default_factory=WebSettings, title="Web server")
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings, title="Simulator")
    rules: CameraRuleSettings = Field(
        default_factory=CameraRuleSettings, title="Camera event rules"
    )
    hotspots: HotspotSettings = Field(default_factory=HotspotSettings, title="Hot-spot alerts")
    hot_issues: HotIssueSettings = Field(
        default_factory=HotIssueSettings, title="Live hot issues from ticket text"
    )
    llm: LLMSettings = Field(default_factory=LLMSettings, title="Language model")
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings, title="Dispatch delivery")
    workers: WorkerSettings = Field(default_factory=WorkerSettings, title="Pipeline workers")
    cameras: CameraGatewaySettings = Field(
        default_factory=CameraGatewaySettings, title="Camera gateway (real streams in)"
    )

    @model_validator(mode="after")
    def _retries_fit_the_poll_interval(self) -> "Settings":
        """A vision batch makes up to two Triton calls inside one poll; with their retries
        they must end well inside max_poll_interval, or a slow server gets the worker
        evicted from its group (after that the stage pauses its partitions and keeps polling)."""
        budget = 2 * self.vision.triton.retry_budget_s
        interval = self.kafka.max_poll_interval_ms / 1000
        if budget >= interval:
            raise ValueError(
                f"vision.triton.retry_budget_s ({self.vision.triton.retry_budget_s:g} s, two "
                f"calls a batch) must be under half of kafka.max_poll_interval_ms ({interval:g} s)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment variables override the YAML file (passed as init values)."""
        return (env_settings, init_settings)
