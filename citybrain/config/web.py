"""The web server that serves the dashboard and the JSON API."""

from pydantic import BaseModel, ConfigDict, Field


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", title="Listen address")
    port: int = Field(8080, ge=0, le=65535, title="Listen port")
