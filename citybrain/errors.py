"""Root of the project's exceptions, so callers can catch everything citybrain raises at once."""


class CityBrainError(Exception):
    """Base class of every error raised on purpose by citybrain."""


class ConfigError(CityBrainError):
    """The configuration is invalid; `problems` holds one line per error with file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class RejectedRecord(CityBrainError):
    """A record that cannot be processed; it travels to the DLQ with `reason` as its label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
