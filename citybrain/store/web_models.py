"""Tables the web server writes: dispatcher actions, who holds each incident now, Open311 intake.

They live apart from the pipeline's tables because the web owns them: the incident job never
writes here, so a dispatcher's decision is never overwritten by the next piece of evidence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.store.models import Base, UTCDateTime


class ActionRow(Base):
    """Every dispatcher decision, in order; `emitted` is the outbox flag for `<prefix>.feedback`."""

    __tablename__ = "actions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    action: Mapped[str] = mapped_column(String(16), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    department_from: Mapped[str] = mapped_column(String(64))
    department_to: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    emitted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AssignmentRow(Base):
    """The department now holding an incident and where it is in their hands, once anyone acted."""

    __tablename__ = "assignments"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # new | accepted | resolved
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class Open311RequestRow(Base):
    """A request taken in through Open311: what its status lookup needs, no personal data."""

    __tablename__ = "open311_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class RevokedSessionRow(Base):
    """A session signed out before it expired: refused by every web server sharing the store
    until `expires_at`, when it would have expired anyway."""

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
