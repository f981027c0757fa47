"""Dispatch delivery: per-department webhooks with retries and a dead-letter path."""

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DispatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhooks: dict[str, str] = Field(
        default_factory=dict,
        title="Department id -> URL that receives its dispatches (over the city file's webhook)",
    )
    webhook_secrets: dict[str, list[str]] = Field(
        default_factory=dict,
        title="Department id -> HMAC secret(s) that sign its webhooks (new first while "
        "rotating; set via CITYBRAIN_DISPATCH__WEBHOOK_SECRETS, never in the YAML file)",
    )
    allow_insecure_webhooks: bool = Field(
        False,
        title="Deliver to plain http:// webhooks and to departments without a signing secret "
        "(a local test receiver); otherwise the dispatch job refuses to start with one",
    )
    webhook_timeout_s: float = Field(5.0, gt=0, title="One delivery attempt's timeout")
    max_attempts: int = Field(
        60,
        ge=1,
        title="Attempts before a delivery is dead-lettered (the default, with the back-off, "
        "retries for about 4 hours; `citybrain deliveries redrive` sends dead ones again)",
    )
    backoff_s: float = Field(1.0, gt=0, title="Delay after the first failure; doubles each time")
    backoff_max_s: float = Field(300.0, gt=0, title="Longest delay between attempts")
    poll_s: float = Field(0.5, gt=0, title="How often a department's sender checks for work")
    batch_size: int = Field(
        16, ge=1, title="Incidents per poll (small: model calls are slow, polls must stay frequent)"
    )

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        if isinstance(v, dict):
            return {k: [x] if isinstance(x, str) else x for k, x in v.items()}
        return v
