"""A small Redis client: the commands Parley sends, over RESP2, with redis-py's settings and answers.

Why not redis-py itself: importing it costs ~40 ms of CPU per cold start (asyncio through its parsers, a
command table of hundreds of methods, two package-metadata lookups), a sixth of a data route's budget
(issue 6). This client speaks the same protocol the same way, so Redis and the callers see no difference:

- the same commands (INCRBY for `incr`, EVALSHA then SCRIPT LOAD for a registered script, …) and the same
  Python answers as redis-py with `decode_responses=True` (a score is a float, EXPIRE a bool, …);
- redis-py's exceptions (`redis.exceptions`, which loads alone), so shared/cache.py's breaker is unchanged;
- the settings shared/cache.py gave redis-py: connect and read timeouts; one immediate retry of a command
  on a dropped connection, never on a timeout; a PING before reusing a connection idle for 30 s; TLS for
  rediss:// (certificate and host name checked against the default trust store, as redis-py does); AUTH
  and SELECT from the URL. Two differences, neither visible to a caller: no CLIENT SETINFO (redis-py's
  name in CLIENT LIST), and no PING before a new connection's first command (redis-py's health check
  also runs then: a round trip less on a cold start).

A command not written here is handed to a redis-py client made on first need with the same settings, so
new code works at once and costs the import only where it runs (a pipeline accepts this module's
commands only: add a command here rather than leaving it to redis-py on a hot path).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from urllib.parse import unquote, urlsplit

from shared.package_init import defer_package_init

defer_package_init("redis")  # redis-py's exceptions load alone, without the rest of redis-py

from redis.exceptions import (  # noqa: E402
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,  # noqa: A004 - redis-py's, as callers catch it
    DataError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,  # noqa: A004 - redis-py's, as callers catch it
)

HEALTH_CHECK_SECONDS = 30  # redis-py's health_check_interval as shared/cache.py set it

# Error replies by their first word, as redis-py maps them (its _parsers/base.py); the word is dropped.
_ERR_MESSAGES = {
    "max number of clients reached": ConnectionError,
    "invalid password": AuthenticationError,
    "Client sent AUTH, but no password is set": AuthenticationError,
    "AUTH <password> called without any password configured for the default user. Are you sure your "
    "configuration is correct?": AuthenticationError,
}
_ERRORS = {
    "OOM": OutOfMemoryError,
    "WRONGPASS": AuthenticationError,
    "LOADING": BusyLoadingError,
    "NOSCRIPT": NoScriptError,
    "READONLY": ReadOnlyError,
    "NOAUTH": AuthenticationError,
    "NOPERM": NoPermissionError,
}


def _error(text: str) -> RedisError:
    code, _, rest = text.partition(" ")
    if code == "ERR":
        return _ERR_MESSAGES.get(rest, ResponseError)(rest)
    return _ERRORS[code](rest) if code in _ERRORS else ResponseError(text)


def _encode(value) -> bytes:
    """redis-py's encoding of a command argument: bytes as they are, text as UTF-8, numbers as their repr."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value).encode()
    raise DataError(f"Invalid input of type: '{type(value).__name__}'. Convert to a bytes, string, int or float first.")


def _pack(args: tuple) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encode(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Connection:
    def __init__(self, settings: dict):
        self._settings = settings
        self._sock: socket.socket | None = None
        self._file = None
        self._last_used = 0.0

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        host, port = self._settings["host"], self._settings["port"]
        try:
            sock = socket.create_connection((host, port), timeout=self._settings["connect_timeout"])
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._settings["tls"]:
                import ssl

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            sock.settimeout(self._settings["timeout"])
        except socket.timeout as error:
            raise TimeoutError(f"Timeout connecting to server {host}:{port}") from error
        except OSError as error:
            raise ConnectionError(f"Error {error.errno} connecting to {host}:{port}. {error.strerror or error}.") from error
        self._sock, self._file = sock, sock.makefile("rb")
        self._last_used = time.monotonic()
        if self._settings["password"] is not None:
            credentials = [self._settings["username"]] if self._settings["username"] else []
            self.call(("AUTH", *credentials, self._settings["password"]), health_check=False)
        if self._settings["db"]:
            self.call(("SELECT", self._settings["db"]), health_check=False)

    def close(self) -> None:
        sock, file, self._sock, self._file = self._sock, self._file, None, None
        for part in (file, sock):  # the socket's descriptor stays open while its file is
            if part is not None:
                try:
                    part.close()
                except OSError:
                    pass

    def call(self, command: tuple, *, health_check: bool = True):
        """One command's answer; an error reply raises."""
        (answer,) = self.call_many([command], health_check=health_check)
        if isinstance(answer, RedisError):
            raise answer
        return answer

    def call_many(self, commands: list[tuple], *, health_check: bool = True) -> list:
        """The commands in one write, their answers (error replies as exceptions, not raised) in order."""
        if not self.connected:
            self.connect()
        elif health_check and time.monotonic() - self._last_used > HEALTH_CHECK_SECONDS:
            self._ping()
        self.send(b"".join(_pack(command) for command in commands))
        answers = [self._read() for _ in commands]
        self._last_used = time.monotonic()
        return answers

    def _ping(self) -> None:
        # redis-py's health check: one PING, retried once on a new connection if this one was dropped.
        for attempt in (1, 2):
            try:
                if self.call(("PING",), health_check=False) != "PONG":
                    raise ConnectionError("Bad response from PING health check")
                return
            except ConnectionError:
                self.close()
                if attempt == 2:
                    raise
                self.connect()

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except socket.timeout as error:
            raise TimeoutError("Timeout writing to socket") from error
        except OSError as error:
            raise ConnectionError(f"Error while writing to socket. {error}") from error

    def _read(self):
        try:
            line = self._file.readline()
            if not line.endswith(b"\r\n"):
                raise ConnectionError("Connection closed by server.")
            kind, rest = line[:1], line[1:-2]
            if kind == b"$":
                length = int(rest)
                if length < 0:
                    return None
                data = self._file.read(length + 2)
                if len(data) != length + 2:
                    raise ConnectionError("Connection closed by server.")
                return data[:-2].decode()
            if kind == b"*":
                length = int(rest)
                return None if length < 0 else [self._read() for _ in range(length)]
            if kind == b":":
                return int(rest)
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                return _error(rest.decode())
        except socket.timeout as error:
            raise TimeoutError("Timeout reading from socket") from error
        except OSError as error:
            raise ConnectionError(f"Error while reading from socket: {error}") from error
        raise ConnectionError(f"Protocol error, got {kind!r} as reply type byte")


class Commands:
    """The commands Parley sends, as redis-py names, sends and answers them. `_run(command, convert)`
    runs one (RedisClient) or queues it (Pipeline)."""

    def execute_command(self, *args):
        return self._run(args, None)

    def incr(self, name: str, amount: int = 1):
        return self._run(("INCRBY", name, amount), None)

    def expire(self, name: str, seconds: int):
        return self._run(("EXPIRE", name, seconds), bool)

    def hmget(self, name: str, keys, *args):
        fields = [keys] if isinstance(keys, (str, bytes)) else list(keys)
        return self._run(("HMGET", name, *fields, *args), None)

    def hdel(self, name: str, *keys):
        return self._run(("HDEL", name, *keys), None)

    def hincrby(self, name: str, key: str, amount: int = 1):
        return self._run(("HINCRBY", name, key, amount), None)

    def zadd(self, name: str, mapping: dict):
        return self._run(("ZADD", name, *[part for member, score in mapping.items() for part in (score, member)]), None)

    def zscore(self, name: str, value: str):
        return self._run(("ZSCORE", name, value), _float_or_none)

    def zmscore(self, key: str, members: list):
        return self._run(("ZMSCORE", key, *members), lambda scores: [_float_or_none(s) for s in scores])

    def zrem(self, name: str, *values):
        return self._run(("ZREM", name, *values), None)

    def eval(self, script: str, numkeys: int, *keys_and_args):
        return self._run(("EVAL", script, numkeys, *keys_and_args), None)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args):
        return self._run(("EVALSHA", sha, numkeys, *keys_and_args), None)

    def script_load(self, script: str):
        return self._run(("SCRIPT", "LOAD", script), None)

    def ping(self):
        return self._run(("PING",), lambda answer: answer == "PONG")


def _float_or_none(value):
    return None if value is None else float(value)


class RedisClient(Commands):
    """Thread-safe: each command borrows a pooled connection (a new one when none is idle)."""

    def __init__(self, url: str, *, timeout_seconds: float, connect_timeout_seconds: float | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"REDIS_URL must start with redis:// or rediss://, not {parts.scheme}://")
        self._url, self._timeout = url, timeout_seconds
        self._settings = {
            "host": parts.hostname or "localhost",
            "port": parts.port or 6379,
            "tls": parts.scheme == "rediss",
            "db": int(parts.path.strip("/") or 0),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password is not None else None,
            "timeout": timeout_seconds,
            "connect_timeout": connect_timeout_seconds if connect_timeout_seconds is not None else timeout_seconds,
        }
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._fallback = None

    def pipeline(self, transaction: bool = True) -> Pipeline:
        if transaction:  # MULTI/EXEC: not written here (Parley's pipelines only batch round trips)
            return self._redis_py().pipeline(transaction=True)
        return Pipeline(self)

    def register_script(self, script: str) -> Script:
        return Script(self, script)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _run(self, command: tuple, convert):
        (answer,) = self.run_many([command])
        if isinstance(answer, RedisError):
            raise answer
        return convert(answer) if convert is not None else answer

    def run_many(self, commands: list[tuple]) -> list:
        """Answers in order (error replies returned, not raised). A dropped connection is retried once on a
        new one, as redis-py's Retry(NoBackoff(), 1) did; a timeout is not (the breaker decides)."""
        with self._lock:
            connection = self._idle.pop() if self._idle else Connection(self._settings)
        try:
            try:
                answers = connection.call_many(commands)
            except ConnectionError:
                connection.close()
                answers = connection.call_many(commands)
        except BaseException:
            connection.close()
            raise
        with self._lock:
            self._idle.append(connection)
        return answers

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._redis_py(), name)

    def _redis_py(self):
        """redis-py with the same settings, for what this client does not do (see the module's docstring)."""
        with self._lock:
            if self._fallback is None:
                from shared.cache import redis_py_client

                self._fallback = redis_py_client(self._url, self._timeout)
            return self._fallback


class Pipeline(Commands):
    """Commands sent in one write, answered in order by `execute` (redis-py's transaction=False)."""

    def __init__(self, client: RedisClient):
        self._client = client
        self.command_stack: list[tuple[tuple, object]] = []

    def _run(self, command: tuple, convert):
        self.command_stack.append((command, convert))
        return self

    def execute(self, raise_on_error: bool = True) -> list:
        stack, self.command_stack = self.command_stack, []
        if not stack:
            return []
        answers = self._client.run_many([command for command, _ in stack])
        if raise_on_error:
            for number, (answer, (command, _)) in enumerate(zip(answers, stack), 1):
                if isinstance(answer, RedisError):  # named as redis-py names it
                    text = " ".join(str(arg) for arg in command)
                    text = text if len(text) <= 100 else text[:97] + "..."
                    answer.args = (f"Command # {number} ({text}) of pipeline caused error: {answer.args[0]}",)
                    raise answer
        return [
            answer if convert is None or isinstance(answer, RedisError) else convert(answer)
            for answer, (_, convert) in zip(answers, stack)
        ]

    def __len__(self) -> int:
        return len(self.command_stack)


class Script:
    """redis-py's registered script: EVALSHA, and on NOSCRIPT, SCRIPT LOAD then EVALSHA again."""

    def __init__(self, client: RedisClient, script: str):
        self._client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode()).hexdigest()

    def __call__(self, keys=(), args=(), client: RedisClient | None = None):
        client = client or self._client
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.sha = client.script_load(self.script)
            return client.evalsha(self.sha, len(keys), *keys, *args)
