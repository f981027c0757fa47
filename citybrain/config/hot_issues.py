"""Live hot issues: tickets whose text describes the same specific problem, kept over the stream."""

from pydantic import BaseModel, ConfigDict, Field


class HotIssueSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, title="Keep live hot issues in the incident job")
    window_s: float = Field(
        14 * 86400.0, gt=0, title="Tickets this recent (event time) are grouped, seconds"
    )
    max_tickets: int = Field(
        2000, ge=2, le=15_000, title="At most this many most recent tickets are grouped"
    )
    regroup_every_s: float = Field(
        3600.0, gt=0, title="Event-time interval between two regroupings of the window"
    )
    max_regroups_per_poll: int = Field(
        1,
        ge=1,
        title="Regroupings run per poll at most; the rest wait for the next poll, so one poll "
        "stays inside the consumer's max poll interval (each takes seconds)",
    )
    trend_s: float = Field(86400.0, gt=0, title="The trend counts members this recent, seconds")
    min_residents: int = Field(
        3, ge=2, title="Distinct voices before a group is a hot issue (copies are one voice)"
    )
    max_issues: int = Field(50, ge=1, title="Hottest issues kept open at once")
    max_members_shown: int = Field(
        100, ge=1, title="Member tickets stored with an issue for the dashboard"
    )
