"""Faust baselines for the worker benchmark, run as a child process:

    python -m bench.faust_baseline MODE BOOTSTRAP TOPIC N

MODE `record`: the idiomatic agent (values decoded into a faust.Record, one await per event).
MODE `raw`: raw bytes, one event at a time (`async for value in stream`), no decoding.
Prints the events/s from the first event to the N-th, then exits.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid

import faust


class Event(faust.Record, serializer="json"):
    """The fields a typical Faust user would declare for a receipt event."""

    type: str
    pos_terminal: str
    ts_in_receipt: int = 0
    ts_received: int = 0
    text: str = ""
    price: int = 0
    quantity: int = 0
    cashier: str = ""
    event_id: str = ""


def main(mode: str, bootstrap: str, topic_name: str, n: int) -> None:
    app = faust.App(f"bench-faust-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}",
                    store="memory://", web_enabled=False, consumer_auto_offset_reset="earliest",
                    broker_session_timeout=6, datadir=tempfile.mkdtemp(prefix="bench-faust-"))
    if mode == "record":
        topic = app.topic(topic_name, key_type=bytes, key_serializer="raw", value_type=Event)
    else:
        topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                          value_serializer="raw")
    seen = {"n": 0, "t0": 0.0}

    @app.agent(topic)
    async def consume(stream: faust.StreamT) -> None:
        async for _ in stream:
            if not seen["n"]:
                seen["t0"] = time.perf_counter()
            seen["n"] += 1
            if seen["n"] >= n:
                print(f"{n / (time.perf_counter() - seen['t0']):.1f}", flush=True)
                os._exit(0)

    from faust.worker import Worker

    Worker(app, loglevel="error", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
