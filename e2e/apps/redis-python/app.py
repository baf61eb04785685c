"""Redis-triggered Python component (spin-sdk 3.4.1, `componentize-py -w spin-redis`).

Records each message with outbound Redis so tests can see it ran:
  any payload -> RPUSH <key_prefix>:messages <payload>, INCR <key_prefix>:count
  b"error"    -> raises Err(Error.ERROR): the handler returns the `error` case
  b"trap"     -> raises a plain exception: the instance traps
The address and key prefix come from the component variables `redis_address` and `key_prefix`.
"""

from spin_sdk import redis, variables
from spin_sdk.wit import exports
from spin_sdk.wit.imports.redis import RedisParameter_Binary
from spin_sdk.wit.imports.redis_types import Error
from spin_sdk.wit.types import Err


class InboundRedis(exports.InboundRedis):
    def handle_message(self, message: bytes) -> None:
        if message == b"error":
            raise Err(Error.ERROR)
        if message == b"trap":
            raise RuntimeError("trap requested by the message")
        prefix = variables.get("key_prefix")
        with redis.open(variables.get("redis_address")) as conn:
            conn.execute(
                "RPUSH",
                [RedisParameter_Binary(f"{prefix}:messages".encode()), RedisParameter_Binary(message)],
            )
            conn.incr(f"{prefix}:count")
