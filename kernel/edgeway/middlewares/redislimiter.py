"""The rate limiter's shared state in Redis (pkg/middlewares/ratelimiter/redis_limiter.go, lua.go).

Every replica runs Traefik's token-bucket Lua script on the key
``rate:<middleware>:<source>``, so replicas pointed at the same Redis share the
limit. One endpoint is a plain client, several a cluster client (go-redis'
``UniversalClient``). Clients are made on first use, one per event loop and
options, so reloading a configuration does not open new connections.
"""

from __future__ import annotations

import asyncio
import math
import os
import ssl
import tempfile
import time
import weakref
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.exceptions import RedisError

from edgeway.config.dynamic import Redis as RedisOptions
from edgeway.config.dynamic import RedisTLS

__all__ = ["RedisLimiter", "RedisLimiterError", "TOKEN_BUCKET_LUA"]

#: Traefik's ``AllowTokenBucketRaw``, verbatim.
TOKEN_BUCKET_LUA = """
local key = KEYS[1]
local limit, burst, ttl, t, max_delay = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
    tonumber(ARGV[5])

local bucket = {
    limit = limit,
    burst = burst,
    tokens = 0,
    last = 0
}

local rl_source = redis.call('hgetall', key)

if table.maxn(rl_source) == 4 then
    -- Get bucket state from redis
    bucket.last = tonumber(rl_source[2])
    bucket.tokens = tonumber(rl_source[4])
end

local last = bucket.last
if t < last then
    last = t
end

local elapsed = t - last
local delta = bucket.limit * elapsed
local tokens = bucket.tokens + delta
tokens = math.min(tokens, bucket.burst)
tokens = tokens - 1

local wait_duration = 0
if tokens < 0 then
    wait_duration = (tokens * -1) / bucket.limit
    if wait_duration > max_delay then
        tokens = tokens + 1
        tokens = math.min(tokens, burst)
    end
end

redis.call('hset', key, 'last', t, 'tokens', tokens)
redis.call('expire', key, ttl)

return {tostring(true), tostring(wait_duration), tostring(tokens)}"""

_PREFIX = "rate:"
_TRUE = frozenset((b"1", b"t", b"T", b"TRUE", b"true", b"True"))
_FALSE = frozenset((b"0", b"f", b"F", b"FALSE", b"false", b"False"))


class RedisLimiterError(Exception):
    """Redis could not be asked (connection, timeout, script error)."""


class _TLSConnection(Connection):
    """A Redis connection over a ready ``ssl.SSLContext`` (redis-py wants file names)."""

    def __init__(self, *, tls_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tls_context = tls_context

    def _connection_arguments(self) -> Any:
        args = dict(super()._connection_arguments())
        args["ssl"] = self.tls_context
        return args


def _read_pem(value: str) -> bytes:
    """Traefik's ClientTLS: a value is a file when such a file exists, else PEM text."""
    if os.path.exists(value):
        with open(value, "rb") as f:
            return f.read()
    return value.encode()


def tls_context(options: RedisTLS) -> ssl.SSLContext:
    """``types.ClientTLS.CreateTLSConfig``: CA, client certificate, insecureSkipVerify."""
    ctx = ssl.create_default_context()
    if options.ca:
        try:
            ctx.load_verify_locations(cadata=_read_pem(options.ca).decode("latin-1"))
        except (ssl.SSLError, ValueError):
            raise ValueError("creating TLS config: failed to parse CA") from None
    if bool(options.cert) != bool(options.key):
        raise ValueError("creating TLS config: both TLS cert and key must be defined")
    if options.cert and options.key:
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            for path, value in ((cert, options.cert), (key, options.key)):
                with open(path, "wb") as f:
                    f.write(_read_pem(value))
            try:
                ctx.load_cert_chain(cert, key)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"creating TLS config: {exc}") from None
    if options.insecureSkipVerify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _endpoint(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"redis endpoint {text!r}: expected host:port")
    return host, int(port)


class _ClientSpec:
    """Redis options turned into redis-py arguments, checked when the configuration is applied."""

    def __init__(self, options: RedisOptions) -> None:
        self.endpoints = [_endpoint(e) for e in (options.endpoints or ["localhost:6379"])]
        self.tls = tls_context(options.tls) if options.tls is not None else None
        read, write = options.readTimeout, options.writeTimeout
        # go-redis: unset means 3s, <= 0 means none. redis-py has one timeout for both.
        read = 3.0 if read is None else read
        write = 3.0 if write is None else write
        self.timeout = None if read <= 0 or write <= 0 else max(read, write)
        self.dial_timeout = options.dialTimeout if options.dialTimeout and options.dialTimeout > 0 else 5.0
        # go-redis: PoolSize connections in use at most (default 10 per CPU), waiting up to
        # readTimeout + 1s for one; MaxActiveConns caps it further.
        size = options.poolSize if options.poolSize and options.poolSize > 0 else 10 * (os.cpu_count() or 1)
        if options.maxActiveConns and options.maxActiveConns > 0:
            size = min(size, options.maxActiveConns)
        self.pool_size = size
        self.pool_timeout = (read if read > 0 else 3.0) + 1.0
        self.min_idle = min(max(0, options.minIdleConns or 0), size)
        self.common: dict[str, Any] = {
            "username": options.username or None,
            "password": options.password or None,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.dial_timeout,
        }
        self.db = options.db or 0
        self.key = (
            tuple(self.endpoints),
            None if options.tls is None else tuple(sorted(options.tls.model_dump().items())),
            options.username,
            options.password,
            self.db,
            self.timeout,
            self.dial_timeout,
            size,
            self.min_idle,
        )

    def make(self) -> Redis | RedisCluster:
        if len(self.endpoints) > 1:
            tls: dict[str, Any] = {}
            if self.tls is not None:
                tls = {"connection_class": _TLSConnection, "tls_context": self.tls}
            return RedisCluster(
                startup_nodes=[ClusterNode(h, p) for h, p in self.endpoints],
                max_connections=self.pool_size,
                **self.common,
                **tls,
            )
        host, port = self.endpoints[0]
        kwargs: dict[str, Any] = {"host": host, "port": port, "db": self.db, **self.common}
        if self.tls is not None:
            kwargs.update(connection_class=_TLSConnection, tls_context=self.tls)
        pool = BlockingConnectionPool(max_connections=self.pool_size, timeout=self.pool_timeout, **kwargs)
        return Redis(connection_pool=pool)


# event loop -> client options -> client
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]] = weakref.WeakKeyDictionary()


async def _warm(client: Redis, count: int) -> None:
    """go-redis' ``MinIdleConns``: open that many connections ahead of the first requests."""
    pool = client.connection_pool
    conns = []
    try:
        for _ in range(count):
            conn = await pool.get_connection()
            conns.append(conn)
    except (TimeoutError, RedisError, OSError):
        pass
    finally:
        for conn in conns:
            await pool.release(conn)


class RedisLimiter:
    """``redisLimiter``: one ``Allow`` is one run of the Lua script."""

    def __init__(self, options: RedisOptions, rate: float, burst: int, max_delay: int, ttl: int) -> None:
        self._spec = _ClientSpec(options)
        self._rate = rate
        self._args_tail = (burst, ttl)
        self._max_delay_us = max_delay // 1000
        self._script: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _get_script(self) -> Any:
        if self._script is None:
            loop = asyncio.get_running_loop()
            per_loop = _clients.setdefault(loop, {})
            client = per_loop.get(self._spec.key)
            if client is None:
                client = per_loop[self._spec.key] = self._spec.make()
                if self._spec.min_idle and isinstance(client, Redis):
                    task = loop.create_task(_warm(client, self._spec.min_idle))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            self._script = client.register_script(TOKEN_BUCKET_LUA)
        return self._script

    async def allow(self, source: str) -> int | None:
        """The delay in nanoseconds, or None when refused outright (as Traefik: also for no limit)."""
        if self._rate == math.inf:
            return None
        burst, ttl = self._args_tail
        args = [self._rate / 1_000_000, burst, ttl, time.time_ns() // 1000, self._max_delay_us]
        try:
            values = await self._get_script()(keys=[_PREFIX + source], args=args)
            ok_text, delay_text = values[0], values[1]
            if ok_text in _TRUE:
                ok = True
            elif ok_text in _FALSE:
                ok = False
            else:
                raise RedisLimiterError(f"parsing ok value from redis rate lua script: {ok_text!r}")
            delay_us = float(delay_text)
        except (TimeoutError, RedisError, OSError, ValueError, IndexError, TypeError) as exc:
            raise RedisLimiterError(f"evaluating script: {exc}") from exc
        if not ok:
            return None
        return int(delay_us * 1000)
