from __future__ import annotations

from enum import StrEnum

from tixcommon.events.base import EntityId, Event, Subject


class RevocationReason(StrEnum):
    PASSWORD_RESET = "password-reset"
    PASSWORD_CHANGE = "password-change"
    SIGNOUT_EVERYWHERE = "signout-everywhere"


class UserSessionsRevoked(Event):
    """Every session of account `id` issued before `notBefore` (epoch seconds, a session's
    `iat`) is signed out. Heard by every process of every service, not one replica of each
    (tixcommon.revocations): each refuses those sessions itself."""

    subject = Subject.USER_SESSIONS_REVOKED

    id: EntityId
    not_before: int
    reason: RevocationReason
