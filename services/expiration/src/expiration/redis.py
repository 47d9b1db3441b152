"""The Redis connection arq schedules on, and the worker's heartbeat in it."""

from __future__ import annotations

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import health_check_key_suffix
from redis.exceptions import RedisError

from tixcommon.errors import ServiceUnavailable


async def arq_pool(redis_url: str, queue_name: str) -> ArqRedis:
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_timeout = 2
    settings.conn_retries = 0
    try:
        return await create_pool(settings, default_queue_name=queue_name)
    except (RedisError, OSError, TimeoutError) as error:
        raise ServiceUnavailable("redis unreachable") from error


def scheduled_channel(queue_name: str) -> str:
    """Where a new timer is announced, so an idle worker wakes for it instead of polling."""
    return f"{queue_name}:scheduled"


def health_key(queue_name: str) -> str:
    return queue_name + health_check_key_suffix


async def worker_alive(redis: ArqRedis, queue_name: str) -> bool:
    """The worker refreshes this key every few seconds; it vanishes soon after the worker dies."""
    return bool(await redis.exists(health_key(queue_name)))
