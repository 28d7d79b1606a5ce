"""One error hierarchy for the planner.

Every failure a user can cause (a bad ``config.json``, an unknown model id, a Hub
outage) ends in a subclass of :class:`PlannerError` with a message fit to show on
a page or in a terminal. Library errors (``json``, ``huggingface_hub``) are caught
at the edge and re-raised as one of these.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base class: anything the planner refuses, with a human-readable message."""


class ConfigError(PlannerError):
    """A ``config.json`` that cannot be read or describes no usable model."""


class MissingFieldError(ConfigError):
    """A field the architecture needs is absent; ``field`` names it."""

    def __init__(self, field: str, architecture: str | None = None) -> None:
        self.field = field
        self.architecture = architecture
        where = f" (needed for {architecture})" if architecture else ""
        super().__init__(f"config.json is missing the field '{field}'{where}")


class InvalidFieldError(ConfigError):
    """A field has the wrong type or an impossible value; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"config.json field '{field}' {reason}")


class UnknownLayerTypeError(InvalidFieldError):
    """A ``layer_types`` entry the planner was not taught (a newer attention kind), not a malformed value."""


class RequestError(PlannerError):
    """A request parameter that cannot be used; ``parameter`` names it (the CLI flag without dashes).

    Messages name parameters without surface syntax (``gpus``, not ``--gpus``): the CLI prefixes
    the flag, the app shows the message beside the widget, the API returns it with the name.
    """

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class ModelNotFoundError(PlannerError):
    """No catalog entry, local file or Hub repository matches the given model id."""


class HubError(PlannerError):
    """The Hugging Face Hub could not answer; subclasses say why."""


class HubNotFoundError(HubError, ModelNotFoundError):
    """The repository or file does not exist on the Hub (or is private)."""


class HubGatedError(HubError):
    """The repository is gated: accept its terms and set ``HF_TOKEN``."""


class HubOfflineError(HubError):
    """Offline (``HF_HUB_OFFLINE`` or no network) and the file is not cached."""


class HubTimeoutError(HubError):
    """The Hub did not answer in time."""


class HubRateLimitError(HubError):
    """The Hub refused the request because of its rate limit.

    ``retry_after`` is the wait in seconds the Hub announced, or None when it said nothing.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)
