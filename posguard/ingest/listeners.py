"""TCP and UDP listeners (asyncio): bytes in, through a protocol decoder, into the intake.

TCP: one decoder per connection (the stream is split into documents/lines across reads);
per connection a byte-rate limit (reads pause above it, so a flooding sender is slowed by
TCP flow control instead of crowding the others), an idle timeout, and a cap on open
connections over all TCP listeners. Bad input never closes a connection: the decoder
resynchronises and rejects go to pos.deadletter.
UDP: JSON and printer text are decoded datagram by datagram; DSSL XML per sender, so a
document may span datagrams (see UdpListener); datagrams above the port's rate are dropped
and counted.

Spool full (the broker has been away long enough to fill the spool, see SpoolFull): a TCP
connection gets one line `SPOOL_FULL_LINE` and is closed; new connections get the line at
once, before anything is read, so their data stays with the sender. A datagram's content is
counted as refused. Nothing accepted before is affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from posguard.ingest.config import IngestConfig
from posguard.ingest.counters import IngestCounters
from posguard.ingest.directory import StreamDecoder, TerminalDirectory
from posguard.ingest.dssl_xml import DsslDecoder
from posguard.ingest.errors import SpoolFull
from posguard.ingest.intake import Intake
from posguard.ingest.rawdump import RawDumper
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

__all__ = ["TcpListener", "UdpListener", "Shell", "now_micros", "SPOOL_FULL_LINE"]

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024
REFUSE_LINGER = 2.0  # seconds a refused connection's late input is drained before closing
SPOOL_FULL_LINE = (b"ERROR posguard: spool full (Kafka unreachable), input refused; "
                   b"send it again later\n")


def now_micros() -> int:
    """Wall-clock time in microseconds (arrival stamps)."""
    return time.time_ns() // 1000


class Shell:
    """What every listener shares: settings, terminals, intake, counters, raw dumps, clock."""

    def __init__(self, config: IngestConfig, directory: TerminalDirectory, intake: Intake,
                 counters: IngestCounters, dumper: RawDumper | None = None,
                 clock: Callable[[], int] = now_micros):
        self.config, self.directory, self.intake = config, directory, intake
        self.counters, self.dumper, self.clock = counters, dumper, clock

    def dump_key(self, transport: str, port: int) -> str | None:
        """Where a port's raw bytes go: its catch-all terminal's GUID when that terminal has
        raw_dump on; "<transport>-<port>" when another terminal on the port has it; None."""
        if self.dumper is None:
            return None
        reg = self.directory.registry
        own = reg.find(transport, port)
        if own is not None and own.raw_dump:
            return own.guid
        if any(t.raw_dump and t.port_key == (transport, port) for t in reg):
            return f"{transport}-{port}"
        return None


class _Bucket:
    """Token bucket: `rate` units per second, bursts up to one second's worth."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self.tokens = self.rate
        self.at = time.monotonic()

    def take(self, n: float) -> float:
        """Spend n units; returns the seconds to wait before the balance is positive."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate) - n
        self.at = now
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class TcpListener:
    """A TCP port speaking one protocol.

    Args:
        shell: shared pieces.
        port: port to bind (on shell.config.bind).
        protocol: "dssl-xml", "json" or "text".
        gate: the open-connection count shared by all TCP listeners.
    """

    def __init__(self, shell: Shell, port: int, protocol: str, gate: list[int]):
        self.shell, self.port, self.protocol, self.gate = shell, port, protocol, gate
        self.key = f"tcp:{port}"
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.shell.config.bind,
                                                  self.port, reuse_address=True)
        log.info("listening on tcp %s:%d (%s)", self.shell.config.bind, self.port,
                 self.protocol)

    async def stop(self) -> None:
        """Stop accepting, end open connections (their unfinished input is rejected)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c, cfg = self.shell.counters, self.shell.config
        if self.gate[0] >= cfg.max_connections:
            c.connections_refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self.gate[0] += 1
        c.connections_open += 1
        c.connections_total += 1
        try:
            if self.shell.intake.full:  # tell the sender before it sends anything
                c.connections_refused_spool_full += 1
                await _refuse(reader, writer)
            else:
                await self._serve(reader, writer)
        except Exception:  # a bug must cost one connection, never the listener
            log.exception("tcp %d: connection failed", self.port)
        finally:
            self._conns.discard(task)
            self.gate[0] -= 1
            c.connections_open -= 1
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sh = self.shell
        peer = writer.get_extra_info("peername")
        source = f"tcp:{self.port} {peer[0]}:{peer[1]}" if peer else self.key
        decoder = sh.directory.decoder("tcp", self.port, self.protocol, source)
        refused = False
        dump = sh.dump_key("tcp", self.port)
        bucket = _Bucket(sh.config.rate_bytes_per_second)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE),
                                                  sh.config.idle_timeout)
                except TimeoutError:
                    sh.counters.connections_idle_closed += 1
                    break
                except (ConnectionError, OSError):
                    break
                if not data:
                    break
                sh.counters.bytes_in[self.key] += len(data)
                if dump is not None and sh.dumper is not None:
                    sh.dumper.write(dump, data)
                try:
                    sh.intake.take(decoder.feed(data, sh.clock()), self.key)
                except SpoolFull:  # counted as refused by the intake
                    refused = True  # a document cut off by our close is not the sender's
                    await _refuse(reader, writer)
                    return
                wait = bucket.take(len(data))
                if wait:
                    await asyncio.sleep(wait)
        finally:
            if not refused:
                with contextlib.suppress(SpoolFull):  # counted as refused by the intake
                    sh.intake.take(decoder.close(sh.clock()), self.key)


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Tell a TCP sender that its input is refused (spool full), then close.

    The line is followed by our end of the stream (FIN), and what the sender still sends is
    read and dropped for up to REFUSE_LINGER seconds: closing with unread input would reset
    the connection, and a reset can destroy the line before the sender reads it.
    """
    with contextlib.suppress(Exception):
        writer.write(SPOOL_FULL_LINE)
        await asyncio.wait_for(writer.drain(), 5)
        if writer.can_write_eof():
            writer.write_eof()
        deadline = time.monotonic() + REFUSE_LINGER
        while (left := deadline - time.monotonic()) > 0:
            if not await asyncio.wait_for(reader.read(READ_SIZE), left):
                break
    writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener):
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        try:
            self.listener.received(data, addr)
        except Exception:  # one datagram, never the endpoint
            log.exception("udp %d: datagram from %s failed", self.listener.port, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp %d: %s", self.listener.port, exc)


class UdpListener:
    """A UDP port speaking one protocol.

    JSON and printer text: each datagram is decoded on its own (whole lines; a last line
    without its newline ends with the datagram). DSSL XML: the datagrams of one sender
    (address and port) are one stream, as on TCP, so a document may arrive split across
    datagrams: the sender's decoder is kept while it holds an unfinished document, and closed
    (the unfinished piece rejected as truncated) when the sender stays silent for
    `idle_timeout`, when more than `max_connections` senders are half-way at once (the
    longest silent goes first), or when the listener stops. A lost or reordered datagram
    costs the document it cut (truncated, or garbage for a tail without its head); the next
    document starts clean.
    """

    def __init__(self, shell: Shell, port: int, protocol: str):
        self.shell, self.port, self.protocol = shell, port, protocol
        self.key = f"udp:{port}"
        self._transport: asyncio.DatagramTransport | None = None
        self._bucket = _Bucket(shell.config.udp_datagrams_per_second)
        self._dropping = False
        # sender -> (its decoder, monotonic time of its last datagram), oldest first
        self._senders: dict[tuple[str, int], tuple[StreamDecoder, float]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(self.shell.config.bind, self.port))
        if self.protocol == "dssl-xml":
            self._sweeper = asyncio.create_task(self._sweep())
        log.info("listening on udp %s:%d (%s)", self.shell.config.bind, self.port,
                 self.protocol)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self.expire(float("inf"))

    async def _sweep(self) -> None:
        period = min(1.0, self.shell.config.idle_timeout / 2)
        while True:
            await asyncio.sleep(period)
            try:
                self.expire(time.monotonic() - self.shell.config.idle_timeout)
            except Exception:  # the sweeper must not die
                log.exception("udp %d: expiring unfinished documents failed", self.port)

    def expire(self, silent_since: float) -> int:
        """Close the decoders of senders silent since before `silent_since` (monotonic s):
        their unfinished documents are rejected as truncated. Returns how many."""
        old = [k for k, (_, at) in self._senders.items() if at < silent_since]
        out: list[PosEvent | Rejected] = []
        ts = self.shell.clock()
        for k in old:
            out += self._senders.pop(k)[0].close(ts)
        with contextlib.suppress(SpoolFull):  # no one to tell: counted as refused
            self.shell.intake.take(out, self.key)
        return len(old)

    def received(self, data: bytes, addr: tuple[str | bytes, int]) -> None:
        sh = self.shell
        if self._bucket.take(1):
            self._bucket.tokens += 1  # a dropped datagram costs nothing
            sh.counters.datagrams_dropped += 1
            if not self._dropping:
                log.warning("udp %d: over %d datagrams/s, dropping", self.port,
                            sh.config.udp_datagrams_per_second)
                self._dropping = True
            return
        self._dropping = False
        sh.counters.bytes_in[self.key] += len(data)
        dump = sh.dump_key("udp", self.port)
        if dump is not None and sh.dumper is not None:
            sh.dumper.write(dump, data)
        host = addr[0].decode() if isinstance(addr[0], bytes) else addr[0]
        sender = (host, addr[1])
        ts = sh.clock()
        held = self._senders.pop(sender, None)
        decoder = held[0] if held is not None else sh.directory.decoder(
            "udp", self.port, self.protocol, f"udp:{self.port} {host}:{addr[1]}")
        if not isinstance(decoder, DsslDecoder):
            out = decoder.feed(data, ts) + decoder.close(ts)
        else:
            out = decoder.feed(data, ts)
            if not decoder.holding:
                out += decoder.close(ts)  # garbage left over is garbage whatever follows
            else:  # the rest may come in the sender's next datagram
                self._senders[sender] = (decoder, time.monotonic())
                while len(self._senders) > sh.config.max_connections:
                    out += self._senders.pop(next(iter(self._senders)))[0].close(ts)
        with contextlib.suppress(SpoolFull):  # no one to tell: counted as refused
            sh.intake.take(out, self.key)
