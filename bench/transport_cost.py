#!/usr/bin/env python
"""Server CPU per packet written to WebSockets by `chat/transport.py` (docs/performance.md,
"Idle socket memory and per-message CPU (session 8)").

    .venv/bin/python bench/transport_cost.py [--root OTHER_CHECKOUT]

A bare Socket.IO server on vt-contact's transport (`ContactSocketServer`, no database, no checks)
in a process of its own; `--sockets` clients each ask it, one request at a time, to emit
`--burst` events to them, for `--seconds`. The figure is the server's own CPU time (its
`time.process_time()`, read by the server before and after) per packet sent: it does not depend
much on what else runs on the machine, unlike msgs/s. `--root` measures the transport of another
checkout (e.g. `git archive <commit> | tar -x -C /tmp/base`) in the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def serve(root: str, port: int) -> None:
    sys.path.insert(0, root)
    import socketio  # noqa: F401 - imported before the checkout's module, as the app does
    from aiohttp import web

    from chat.transport import ContactSocketServer

    sio = ContactSocketServer(async_mode="aiohttp", cors_allowed_origins=None)

    @sio.on("burst")
    async def _burst(sid: str, data: dict) -> int:
        for i in range(data["count"]):
            await sio.emit("n", {"i": i, "text": data["text"]}, to=sid)
        return data["count"]

    @sio.on("cpu")
    async def _cpu(sid: str, data: object = None) -> float:
        return time.process_time()

    app = web.Application()
    sio.attach(app)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


async def client(args: argparse.Namespace, port: int) -> dict[str, float]:
    import aiohttp

    base = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http:

        async def connect() -> aiohttp.ClientWebSocketResponse:
            for _ in range(100):
                try:
                    ws = await http.ws_connect(base)
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            await ws.receive_str()
            await ws.send_str("40")
            await ws.receive_str()
            return ws

        sockets = [await connect() for _ in range(args.sockets)]
        text = "x" * args.size
        received = 0

        async def ask(ws: aiohttp.ClientWebSocketResponse, packet: str, frames: int) -> str:
            await ws.send_str(packet)
            got = 0
            while True:
                frame = await ws.receive_str()
                if frame == "2":
                    await ws.send_str("3")
                elif frame.startswith("43"):
                    if got >= frames:
                        return frame
                else:
                    got += 1

        async def cpu() -> float:
            frame = await ask(sockets[0], '421["cpu"]', 0)
            return float(json.loads(frame[3:])[0])

        async def loop(ws: aiohttp.ClientWebSocketResponse, until: float) -> None:
            nonlocal received
            request = "421" + json.dumps(["burst", {"count": args.burst, "text": text}])
            while time.monotonic() < until:
                await ask(ws, request, args.burst)
                received += args.burst + 1  # the events and the ack

        await asyncio.gather(*(loop(ws, time.monotonic() + 1) for ws in sockets))  # warm up
        received = 0
        cpu0, t0 = await cpu(), time.monotonic()
        await asyncio.gather(*(loop(ws, t0 + args.seconds) for ws in sockets))
        cpu1, t1 = await cpu(), time.monotonic()
        for ws in sockets:
            await ws.close()
    return {
        "packets": received,
        "packets_per_s": round(received / (t1 - t0)),
        "server_cpu_s": round(cpu1 - cpu0, 3),
        "server_cpu_us_per_packet": round((cpu1 - cpu0) / received * 1e6, 2),
    }


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(ROOT), help="the checkout whose chat/transport.py is measured")
    p.add_argument("--sockets", type=int, default=20)
    p.add_argument("--burst", type=int, default=20, help="events emitted per request")
    p.add_argument("--size", type=int, default=60, help="characters of text per event")
    p.add_argument("--seconds", type=float, default=10)
    args = p.parse_args()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", args.root, str(port)], cwd="/")
    try:
        result = asyncio.run(client(args, port))
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps({"root": args.root, "sockets": args.sockets, "burst": args.burst, **result}))


if __name__ == "__main__":
    main()
