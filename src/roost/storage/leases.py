"""Leases: named, expiring locks in the database, so replicas sharing it coordinate.

A lease row says who (`holder`, one per process) holds a name until when. Taking one is a
single conditional upsert: it succeeds when the name is free, expired, or already ours.
Expiry times come from the replicas' clocks, so replicas must keep their clocks in sync
(NTP); skew only shortens or lengthens how long a dead replica's leases block others.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import String, and_, cast, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from roost.core.clock import utcnow
from roost.storage.db import Database
from roost.storage.tables import conversations, leases


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take or extend `name` for `seconds`; False while another holder's is live."""
        now = utcnow()
        make = sqlite.insert if self._db.dialect == "sqlite" else postgresql.insert
        statement = make(leases).values(
            name=name, holder=holder, expires_at=now + timedelta(seconds=seconds)
        )
        statement = statement.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
            where=or_(leases.c.holder == holder, leases.c.expires_at <= now),
        )
        async with self._db.write() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount) == 1

    async def renew(self, holder: str, names: Collection[str], seconds: float) -> int:
        """Extend the holder's leases on `names` (one statement); how many it still held."""
        if not names:
            return 0
        async with self._db.write() as conn:
            result = await conn.execute(
                update(leases)
                .where(leases.c.holder == holder, leases.c.name.in_(list(names)))
                .values(expires_at=utcnow() + timedelta(seconds=seconds))
            )
        return int(result.rowcount)

    async def expire_at(self, name: str, holder: str, until: datetime) -> None:
        """Keep the holder's lease until `until` (and no longer), without renewals."""
        async with self._db.write() as conn:
            await conn.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(expires_at=until)
            )

    async def release(self, name: str, holder: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )

    async def holder(self, name: str) -> str | None:
        """Who holds `name` now (None: nobody, or only an expired lease)."""
        async with self._db.read() as conn:
            value = await conn.scalar(
                select(leases.c.holder).where(leases.c.name == name, leases.c.expires_at > utcnow())
            )
        return None if value is None else str(value)

    async def forget(self, prefix: str, *, keep: str) -> int:
        """Expire the leases of holders named `prefix...` other than `keep`: earlier runs
        of this replica, which are dead (the restarted one holds their port). Expired, not
        deleted: a dead holder's lease row is how its cut agent turns are found."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(leases)
                .where(
                    and_(
                        leases.c.holder.startswith(prefix, autoescape=True),
                        leases.c.holder != keep,
                        leases.c.expires_at > utcnow(),
                    )
                )
                .values(expires_at=utcnow())
            )
        return int(result.rowcount)

    async def held_for_user(self, prefix: str, user_id: str, *, other_than: str) -> bool:
        """Whether a holder other than `other_than` holds `<prefix><conversation id>` of one
        of the user's conversations now (a turn of the user runs on another replica)."""
        name = literal(prefix, String) + cast(conversations.c.id, String)
        query = (
            select(leases.c.name)
            .join(conversations, leases.c.name == name)
            .where(
                conversations.c.user_id == user_id,
                leases.c.holder != other_than,
                leases.c.expires_at > utcnow(),
            )
            .limit(1)
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).first() is not None

    async def expired(self, prefix: str, *, limit: int) -> list[str]:
        """Names `prefix...` whose holder let them expire without releasing them."""
        query = (
            select(leases.c.name)
            .where(
                leases.c.name.startswith(prefix, autoescape=True), leases.c.expires_at <= utcnow()
            )
            .order_by(leases.c.expires_at)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [str(name) for name in (await conn.execute(query)).scalars()]

    async def sweep(self, older_than: timedelta) -> int:
        """Delete leases that expired more than `older_than` ago (nobody needs them)."""
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(leases).where(leases.c.expires_at < utcnow() - older_than)
            )
        return int(result.rowcount)
