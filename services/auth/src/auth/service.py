"""Accounts: creating them, checking credentials, refusing guessing at speed, and keeping them
(a reset by mail, a password change, signing out everywhere: docs/accounts.md)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from auth.metrics import ACCOUNT_CHANGES, PASSWORD_RESETS_ASKED, SIGNIN_FAILURES
from auth.models import PasswordReset, User
from auth.passwords import PasswordHasher
from auth.reset_mail import PASSWORD_RESET, mail_key
from auth.reset_tokens import TOKEN_LENGTH, ResetTokens
from tixcommon.bus import Outbox, Transaction
from tixcommon.errors import BadRequest, NotAuthorized
from tixcommon.events import RevocationReason, UserSessionsRevoked
from tixcommon.mail import MailRelay
from tixcommon.ratelimit import AttemptLimiter

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_IN_USE = "Email in use"
INVALID_RESET = "Reset link is invalid or has expired"


class ResetRefused(BadRequest):
    def __init__(self) -> None:
        super().__init__(INVALID_RESET, field="token")


@dataclass(frozen=True)
class Limits:
    """Attempts allowed per window (AttemptLimiter's), per email and per client address."""

    signin_failures_per_email: int
    signin_failures_per_address: int
    resets_per_email: int
    resets_per_address: int


@dataclass
class AccountService:
    hasher: PasswordHasher
    attempts: AttemptLimiter
    limits: Limits
    outbox: Outbox
    mail: MailRelay
    tokens: ResetTokens
    reset_lifetime: timedelta
    # Seconds since the epoch, for reset links' lifetimes: the tests move it to see one expire.
    # Sessions keep the real time, which every service shares.
    clock: Callable[[], float] = field(default=time.time)

    async def sign_up(self, email: str, password: str) -> User:
        async with self.hasher.pool.slot():
            password_hash = await self.hasher.hash(password)
        user = User(email=email, password_hash=password_hash)
        try:
            await user.insert()
        except DuplicateKeyError:
            raise BadRequest(EMAIL_IN_USE, field="email") from None
        return user

    async def sign_in(self, email: str, password: str, client_address: str) -> User:
        # A place on the hashing pool first: a sign-in refused for want of one costs nothing.
        async with self.hasher.pool.slot():
            return await self._sign_in(email, password, client_address)

    async def _sign_in(self, email: str, password: str, client_address: str) -> User:
        user = await User.find_one(User.email == email)
        await self._check_password(user, email, password, client_address)
        assert user is not None
        return user

    async def _check_password(
        self,
        user: User | None,
        email: str,
        password: str,
        client_address: str,
        field: str | None = None,
    ) -> None:
        """The password is the account's, or a 400 that counts as a failure (429 once too many
        have failed, per email and per address)."""
        email_key, address_key = f"email:{email}", f"address:{client_address}"
        failed = await self.attempts.check(
            {
                email_key: self.limits.signin_failures_per_email,
                address_key: self.limits.signin_failures_per_address,
            }
        )
        valid, rehashed = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not valid:
            await self.attempts.record_failure(email_key, address_key)
            SIGNIN_FAILURES.inc()
            raise BadRequest(INVALID_CREDENTIALS, field=field)
        if email_key in failed:
            # The account's owner got in: forgive its failures (never the address's).
            await self.attempts.reset(email_key)
        if rehashed is not None:
            # Only if it is still the hash we verified: a concurrent change of it wins.
            await User.find_one(
                User.id == user.id, User.password_hash == user.password_hash
            ).update({"$set": {"password_hash": rehashed}})

    # -- keeping an account ---------------------------------------------------------------------

    async def ask_reset(self, email: str, client_address: str) -> None:
        """Queue a reset link for `email`, whether or not it has an account: the same reads and
        writes either way, so neither the answer nor its time says which (the mail does, to the
        address's owner only)."""
        email_key, address_key = f"reset-email:{email}", f"reset-address:{client_address}"
        await self.attempts.check(
            {email_key: self.limits.resets_per_email, address_key: self.limits.resets_per_address}
        )
        await self.attempts.record_failure(email_key, address_key)
        now = self._now()
        reset_id = ObjectId()
        reset = PasswordReset(
            id=reset_id,
            email=email,
            token_hash=ResetTokens.hash(self.tokens.token(reset_id)),
            requested_at=now,
            expires_at=now + self.reset_lifetime,
        )

        async def work(tx: Transaction) -> None:
            await reset.insert(session=tx.session)
            await self.mail.queue.queue_mail(
                tx,
                key=mail_key(reset_id),
                kind=PASSWORD_RESET,
                to=email,
                params={"resetId": str(reset_id)},
            )

        await self.outbox.run(work)
        self.mail.wake()
        PASSWORD_RESETS_ASKED.inc()

    async def confirm_reset(self, token: str, password: str) -> User:
        """The link's account gets `password`, the link and every other open one of it are
        used up, and every earlier session ends."""
        if len(token) != TOKEN_LENGTH:
            raise ResetRefused()
        now = self._now()
        # Found before any hashing: a guessed token costs one indexed read, not an argon2 run.
        reset = await PasswordReset.find_one(
            PasswordReset.token_hash == ResetTokens.hash(token),
            PasswordReset.used_at == None,  # noqa: E711
        )
        if reset is None or _aware(reset.expires_at) <= now:
            raise ResetRefused()
        user = await User.find_one(User.email == reset.email)
        if user is None:
            raise ResetRefused()
        async with self.hasher.pool.slot():
            password_hash = await self.hasher.hash(password)

        async def used_up(session: AsyncClientSession) -> None:
            # One conditional write: of two uses of a link at once, one changes the password.
            claimed = await PasswordReset.get_pymongo_collection().update_one(
                {"_id": reset.id, "used_at": None, "expires_at": {"$gt": now}},
                {"$set": {"used_at": now}},
                session=session,
            )
            if claimed.modified_count != 1:
                raise ResetRefused()
            await PasswordReset.get_pymongo_collection().update_many(
                {"email": reset.email, "used_at": None}, {"$set": {"used_at": now}}, session=session
            )

        changed = await self._end_sessions(
            user, RevocationReason.PASSWORD_RESET, password_hash=password_hash, also=used_up
        )
        # Whoever holds the mailbox holds the account: its failed sign-ins are forgiven.
        await self.attempts.reset(f"email:{user.email}")
        return changed

    async def change_password(
        self, user_id: str, current: str, new: str, client_address: str
    ) -> User:
        user = await self._account(user_id)
        async with self.hasher.pool.slot():
            await self._check_password(
                user, user.email, current, client_address, field="currentPassword"
            )
            password_hash = await self.hasher.hash(new)
        return await self._end_sessions(
            user, RevocationReason.PASSWORD_CHANGE, password_hash=password_hash
        )

    async def sign_out_everywhere(self, user_id: str) -> None:
        await self._end_sessions(await self._account(user_id), RevocationReason.SIGNOUT_EVERYWHERE)

    async def _account(self, user_id: str) -> User:
        user = await User.get(ObjectId(user_id)) if ObjectId.is_valid(user_id) else None
        if user is None:
            raise NotAuthorized()
        return user

    async def _end_sessions(
        self,
        user: User,
        reason: RevocationReason,
        *,
        password_hash: str | None = None,
        also: Callable[[AsyncClientSession], Awaitable[None]] | None = None,
    ) -> User:
        """Every session of `user` issued until now ends, with the account's change, in one
        transaction with the event that tells every service (through the outbox). Sessions
        are dated in whole seconds, so the line is the next second: every earlier session of
        this one is refused too, and the one issued now starts there."""

        async def work(tx: Transaction) -> int:
            if also is not None:
                await also(tx.session)
            stored = await User.get_pymongo_collection().find_one(
                {"_id": user.id}, {"sessions_not_before": 1}, session=tx.session
            )
            before = int((stored or {}).get("sessions_not_before", 0))
            # Past the last line too: two changes in one second each end the other's session.
            not_before = max(int(time.time()) + 1, before + 1)
            changes: dict[str, object] = {"sessions_not_before": not_before}
            if password_hash is not None:
                changes["password_hash"] = password_hash
            await User.get_pymongo_collection().update_one(
                {"_id": user.id}, {"$set": changes}, session=tx.session
            )
            tx.publish(UserSessionsRevoked(id=str(user.id), not_before=not_before, reason=reason))
            return not_before

        not_before = await self.outbox.run(work)
        ACCOUNT_CHANGES.labels(reason.value).inc()
        changed: User = user.model_copy(
            update={
                "sessions_not_before": not_before,
                "password_hash": password_hash or user.password_hash,
            }
        )
        return changed

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
