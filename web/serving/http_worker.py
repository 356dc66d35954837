"""A gunicorn worker that serves with hypercorn on asyncio: gunicorn's master
keeps doing what it does (forking, restarting dead workers, the embedded
services in its process), and each worker's connections live on an event
loop, where a slow or idle client costs a socket, never a thread
(docs/architecture.md#the-web-tier)."""

from __future__ import annotations

import asyncio
import os
import signal

from gunicorn.workers.base import Worker
from hypercorn.asyncio import serve
from hypercorn.config import Config

# A connection whose request headers are not complete within this many
# seconds is closed; the same timeout closes an idle keep-alive connection.
HEADERS_TIMEOUT_SECONDS = 10
# What a worker finishes after a stop signal before it closes connections.
GRACEFUL_SECONDS = 10


class AsyncWorker(Worker):  # type: ignore[misc]
    def init_signals(self) -> None:
        # gunicorn's handlers would exit in the middle of a request: the
        # event loop's own (below) stop serving and let requests finish.
        for number in self.SIGNALS:
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGUSR1, self.handle_usr1)
        signal.siginterrupt(signal.SIGUSR1, False)

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(number, stop.set)
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            await serve(self.wsgi, self._config(), shutdown_trigger=stop.wait, mode="asgi")
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Tell the master this worker's loop is alive; stop when the master is gone."""
        while not stop.is_set():
            self.notify()
            if os.getppid() != self.ppid:
                self.log.info("the master is gone; worker %s stops", self.pid)
                stop.set()
            await asyncio.sleep(min(2.0, self.timeout / 4))

    def _config(self) -> Config:
        config = Config()
        config.bind = [f"fd://{sock.fileno()}" for sock in self.sockets]
        config.keep_alive_timeout = HEADERS_TIMEOUT_SECONDS
        config.graceful_timeout = GRACEFUL_SECONDS
        config.backlog = self.cfg.backlog
        # Logged by the master's loggers (shared.log_setup), in LOG_FORMAT.
        config.accesslog = self.log.access_log
        config.errorlog = self.log.error_log
        config.access_log_format = self.cfg.access_log_format
        # HTTP/1.1 only: nothing of ours needs HTTP/2 or WebSockets.
        config.alpn_protocols = ["http/1.1"]
        config.include_server_header = False
        return config
