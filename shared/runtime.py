"""A process's connections, made on first use and remade after a fork: a
pool must never be shared between a parent and its children."""

from __future__ import annotations

import os

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.broker import redis_client
from shared.config import Settings
from shared.db import make_engine, make_sessions


class Runtime:
    def __init__(self, settings: Settings, name: str = "licensecodes") -> None:
        """`name`: the process's kind; its sessions are named `<name> <pid>`
        in pg_stat_activity, so an operator can tell which worker process
        holds the session a claim names (`claim_backend_pid`)."""
        assert settings.database_url is not None, "connect the services first"
        self.settings = settings
        self._name = name
        self._pid = -1
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._redis: redis.Redis | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            if self._engine is not None:
                self._engine.dispose(close=False)  # the parent's sockets stay the parent's
            assert self.settings.database_url is not None
            self._engine = make_engine(self.settings.database_url, f"{self._name} {os.getpid()}")
            self._sessions = make_sessions(self._engine)
            self._pid = os.getpid()
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        self.engine  # noqa: B018 (makes the engine for this process)
        assert self._sessions is not None
        return self._sessions

    @property
    def redis(self) -> redis.Redis:
        # redis-py's pool notices a fork by itself and reconnects in the child.
        if self._redis is None:
            assert self.settings.redis_url is not None
            self._redis = redis_client(self.settings.redis_url)
        return self._redis
