"""Redis-triggered Python component as spin-sdk 5.0.0 writes one (componentize-py 0.25.1,
world spin:up/redis-trigger@4.1.0): an async handler exporting spin:redis/inbound-redis@3.0.0,
a WASI p3 component. The same behaviour as ../redis-python:
  any payload -> RPUSH <key_prefix>:messages <payload>, INCR <key_prefix>:count
  b"error"    -> raises Err(Error_Other): the handler returns the `error` case
  b"trap"     -> raises a plain exception: the instance traps
The address and key prefix come from the component variables `redis_address` and `key_prefix`.
"""

from componentize_py_types import Err
from spin_sdk import redis, variables
from spin_sdk.wit import exports
from spin_sdk.wit.imports.spin_redis_redis_3_0_0 import Error_Other, RedisParameter_Binary


class RedisHandler(exports.RedisHandler):
    async def handle_message(self, message: bytes) -> None:
        if message == b"error":
            raise Err(Error_Other("error requested by the message"))
        if message == b"trap":
            raise RuntimeError("trap requested by the message")
        prefix = await variables.get("key_prefix")
        with await redis.open(await variables.get("redis_address")) as conn:
            await conn.execute(
                "RPUSH",
                [RedisParameter_Binary(f"{prefix}:messages".encode()), RedisParameter_Binary(message)],
            )
            await conn.incr(f"{prefix}:count")
