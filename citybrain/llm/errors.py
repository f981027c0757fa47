"""Why a model call produced nothing usable; each maps to an audit outcome."""

from citybrain.errors import CityBrainError


class LLMError(CityBrainError):
    outcome = "error"


class LLMTimeout(LLMError):
    outcome = "timeout"


class LLMUnavailable(LLMError):
    """The circuit is open or the time budget is spent: the call was not even tried."""

    outcome = "error"


class LLMInvalid(LLMError):
    """The server answered, but not with what the schema asked for."""

    outcome = "invalid"
