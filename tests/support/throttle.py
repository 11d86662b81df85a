"""A throttling TCP proxy on loopback: an emulated slow link that a test can also cut, like a phone losing
its signal halfway through an upload. Counts the bytes it carried upstream on each connection."""

from __future__ import annotations

import asyncio
import time

from tests.support.services import free_port


class ThrottlingProxy:
    def __init__(self, target_port: int, bytes_per_s: float) -> None:
        self.target_port = target_port
        self.bytes_per_s = bytes_per_s
        self.port = free_port()
        self.cut_after: int | None = None     # the next connection is cut after this many bytes upstream
        self.upstream: list[int] = []         # bytes carried to the server, per connection
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        index, cut_after, self.cut_after = len(self.upstream), self.cut_after, None
        self.upstream.append(0)
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def up() -> None:
            started = time.monotonic()
            while chunk := await client_reader.read(16 * 1024):
                if cut_after is not None:
                    chunk = chunk[:cut_after - self.upstream[index]]
                self.upstream[index] += len(chunk)
                # Paced: the bytes sent so far may not run ahead of the link's rate.
                delay = started + self.upstream[index] / self.bytes_per_s - time.monotonic()
                await asyncio.sleep(max(delay, 0))
                server_writer.write(chunk)
                await server_writer.drain()
                if cut_after is not None and self.upstream[index] >= cut_after:
                    return   # the link is gone: both sides see the connection end
            server_writer.write_eof()

        async def down() -> None:
            while chunk := await server_reader.read(64 * 1024):
                client_writer.write(chunk)
                await client_writer.drain()

        tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED if cut_after else asyncio.ALL_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (client_writer, server_writer):
                writer.close()
