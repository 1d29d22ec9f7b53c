"""The event loop `digitrec serve` runs: one new connection per turn, so workers share them."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from digitrec.web.server import FairAcceptLoop


def test_the_loop_accepts_one_waiting_connection_per_turn() -> None:
    turns: list[int] = []

    class CountingLoop(FairAcceptLoop):
        def _accept_connection(self, protocol_factory: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
            turns.append(1)
            super()._accept_connection(protocol_factory, sock, *args, **kwargs)

    accepted: list[asyncio.BaseTransport] = []

    class Recorder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.append(transport)

    async def connect_five_at_once() -> None:
        server = await asyncio.get_running_loop().create_server(Recorder, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        # The kernel completes all five handshakes before the loop looks at the socket again.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        for _ in range(500):
            if len(accepted) == 5:
                break
            await asyncio.sleep(0.01)
        for client in clients:
            client.close()
        for transport in accepted:
            transport.close()
        server.close()
        await server.wait_closed()

    def run_loop() -> None:
        loop = CountingLoop()
        try:
            loop.run_until_complete(connect_five_at_once())
        finally:
            loop.close()

    # In a thread of its own: the browser tests' driver keeps an event loop running in this one.
    thread = threading.Thread(target=run_loop)
    thread.start()
    thread.join(timeout=30)
    assert len(accepted) == 5
    # asyncio's own loop takes all five in its first turn; this one needs a turn for each.
    assert len(turns) >= 5
