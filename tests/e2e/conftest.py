"""The browser tests share the integration suite's embedded broker."""

from ..integration.conftest import broker  # noqa: F401
