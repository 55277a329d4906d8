#!/usr/bin/python3
"""The reference for scripts/bench: a plain SmallWebRTC echo server on Debian's python3-aiortc, the stack Pipecat's
transport is built on, doing per session what Pipecat does for an echo bot.

Usage: aiortc_echo_server.py PORT

- POST /api/offer {sdp, type} -> {sdp, type, pc_id}, as Pipecat's SmallWebRTC request handler answers; DELETE is not
  needed by the load client.
- Incoming audio: aiortc decodes Opus to 48 kHz stereo; PyAV resamples it to 16 kHz mono, the pipeline's rate, as
  Pipecat's input transport does.
- Outgoing audio: a track that aiortc pulls every 20 ms, paced on its own clock like Pipecat's output track, handing
  back the echoed 16 kHz audio (or silence when there is none); aiortc's encoder takes it to 48 kHz stereo Opus.
- Data channel: every message is sent straight back.

No STUN or TURN servers; aioice gathers only on 127.0.0.1. Prints "listening on PORT" when ready.
Run with /usr/bin/python3: the pyenv python3 on PATH has no aiortc.
"""
from __future__ import annotations

import asyncio
import fractions
import sys
import time
import uuid

import aioice.ice
import av
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

RATE = 16000
FRAME_SAMPLES = RATE // 50
# Pipecat bounds nothing here either; a second of audio keeps a stalled session from growing without end.
MAX_BUFFERED_BYTES = RATE * 2


class EchoTrack(MediaStreamTrack):
    """Bot audio: 20 ms of 16 kHz mono per recv(), paced on a monotonic schedule."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()
        self._start: float | None = None
        self._index = 0

    def push(self, pcm: bytes) -> None:
        self.buffer += pcm
        if len(self.buffer) > MAX_BUFFERED_BYTES:
            del self.buffer[: len(self.buffer) - MAX_BUFFERED_BYTES]

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * 0.02
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        size = FRAME_SAMPLES * 2
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        chunk += bytes(size - len(chunk))
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = RATE
        frame.pts = self._index * FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, RATE)
        self._index += 1
        return frame


async def pump(source: MediaStreamTrack, sink: EchoTrack) -> None:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    try:
        while True:
            frame = await source.recv()
            for pipeline_frame in resampler.resample(frame):
                sink.push(bytes(pipeline_frame.planes[0])[: pipeline_frame.samples * 2])
    except MediaStreamError:
        pass


class Server:
    def __init__(self) -> None:
        self.connections: dict[str, RTCPeerConnection] = {}

    async def offer(self, request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc_id = f"SmallWebRTCConnection#{uuid.uuid4()}"
        self.connections[pc_id] = pc
        echo = EchoTrack()
        tasks: list[asyncio.Task] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                tasks.append(asyncio.ensure_future(pump(track, echo)))

        @pc.on("datachannel")
        def on_datachannel(channel) -> None:
            channel.on("message", channel.send)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                for task in tasks:
                    task.cancel()
                self.connections.pop(pc_id, None)
                await pc.close()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio":
                transceiver.sender.replaceTrack(echo)
                transceiver.direction = "sendrecv"
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp, "type": pc.localDescription.type, "pc_id": pc_id})

    async def status(self, _: web.Request) -> web.Response:
        return web.json_response({"sessions": len(self.connections)})


def main() -> None:
    port = int(sys.argv[1])
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    server = Server()
    app = web.Application()
    app.router.add_post("/api/offer", server.offer)
    app.router.add_get("/status", server.status)
    print(f"listening on {port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
