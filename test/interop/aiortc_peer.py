#!/usr/bin/python3
"""
A SmallWebRTC client built on aiortc (Debian's python3-aiortc), the WebRTC stack Pipecat itself runs on: an interop
peer for tests, not written against our server's code.

It offers an audio transceiver (sendrecv) that plays a WAV file in real time and then silence, plus a data channel;
POSTs {sdp, type} to <base>/api/offer; applies the answer; speaks RTVI on the channel; records what comes back; and
prints ONE JSON line with the results. Exit code: 0 when connected with an open data channel, 1 otherwise, 2 when the
peer itself crashed.

--esp32 makes the peer look like the pipecat-esp32 firmware (libpeer; docs/protocol.md §6):
  - the offer on the wire is rendered in libpeer's layout (sdp.c, peer_connection.c): session-level ice-ufrag/pwd,
    one sha-256 fingerprint and `a=setup:passive`; `a=group:BUNDLE audio datachannel`; one `m=audio ... SAVP 111`
    with only opus/48000/2, `a=ssrc:6`, no rtcp-fb and no header extensions; `m=application 50712 UDP/DTLS/SCTP` with
    sctp-port 5000 and max-message-size 262144; host candidates only (plus, with --stun, the server-reflexive one
    libpeer gathers from a STUN URL in its ice_servers; pipecat-esp32 configures none), appended after the last
    m-line, no end-of-candidates, no trickle;
  - the microphone is Opus-encoded by the peer itself at 16 kHz mono, VOIP, 30 kbps, complexity 0, 20 ms frames,
    and sent with SSRC 6;
  - the body is cJSON_Print's tab-indented JSON; an answer that is not 200, is chunked or exceeds 4096 bytes fails
    as it would on the device (http.cpp), and so does one libpeer cannot read (see libpeer_answer_problems): aiortc
    itself would accept more, e.g. a passive answer, which libpeer (the DTLS server once it offered passive) cannot;
  - data channel `rtvi-ai`, no `client-ready`, no `ping` keep-alives, no messages of its own.

Not reproduced (aiortc is not libpeer):
  - ICE, DTLS and SCTP are aioice's, OpenSSL's and aiortc's: the same roles (controlling ICE agent, DTLS server,
    ECDSA P-256 certificate, data channel opened by the device), not libpeer's timing, record sizes or SCTP
    parameters. aiortc also sends RTCP reports and answers NACK/PLI; libpeer sends no RTCP.
  - aiortc's ICE password is 22 characters (libpeer's 24). It gathers one ICE transport per m-line until BUNDLE is
    settled; the offer carries only the first one's credentials and candidates, which is the one that survives.
  - The microphone is paced at exactly 20 ms (the firmware reads I2S in a 15 ms task loop), and it is not muted
    while bot audio plays (the firmware's crude echo suppression).
  - Received audio is decoded by aiortc at 48 kHz stereo and resampled to 16 kHz mono; the firmware decodes
    straight to 16 kHz mono. Same content, not the same samples.

Run with /usr/bin/python3: the pyenv python3 on PATH has no aiortc.
"""
from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import re
import sys
import tempfile
import time
import uuid
import wave
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import aiohttp
import aioice.ice
import av
import numpy
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    __version__ as aiortc_version,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

FRAME_SECONDS = 0.02
RECORD_RATE = 16000
RTVI_VERSION = "2.1.0"
CLOSE_TIMEOUT = 5
# libpeer's fixed values (sdp.c, rtp.h, ice.c).
LIBPEER_OPUS_PT = 111
LIBPEER_OPUS_SSRC = 6
LIBPEER_SCTP_MEDIA_PORT = 50712
# pipecat-esp32 http.cpp / main.h: the answer must fit MAX_HTTP_OUTPUT_BUFFER and arrive within HTTP_TIMEOUT_MS.
ESP32_MAX_HTTP_BODY = 4096
ESP32_HTTP_TIMEOUT = 10
ESP32_USER_AGENT = "ESP32 HTTP Client/1.0"


@dataclass
class Options:
    base: str
    wav: str
    seconds: float
    label: str
    out_dir: str
    esp32: bool
    ice_address: str
    connect_timeout: float
    stun: Optional[str]


@dataclass
class Report:
    connected: bool = False
    datachannel_open: bool = False
    profile: str = "aiortc"
    aiortc_version: str = aiortc_version
    http_status: Optional[int] = None
    http_body_bytes: Optional[int] = None
    http_chunked: Optional[bool] = None
    pc_id: Optional[str] = None
    ms_offer_to_answer: Optional[float] = None
    ms_to_connected: Optional[float] = None
    ms_to_datachannel_open: Optional[float] = None
    ms_to_first_audio: Optional[float] = None
    connection_states: list[str] = field(default_factory=list)
    client_ready_id: Optional[str] = None
    dc_label: str = ""
    dc_sent: list[Any] = field(default_factory=list)
    dc_received: list[Any] = field(default_factory=list)
    dc_received_non_json: list[str] = field(default_factory=list)
    audio_frames_sent: int = 0
    audio_frames_received: int = 0
    audio_timestamp_gaps: int = 0
    received_rms: float = 0.0
    recording: Optional[str] = None
    offer_sdp: str = ""
    answer_sdp: str = ""
    errors: list[str] = field(default_factory=list)


def ms_since(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def use_host_address(address: str) -> None:
    """aioice never gathers loopback (get_host_addresses skips 127.0.0.1), so name the one address to use."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]


def load_pcm(path: str, rate: int) -> numpy.ndarray:
    """The WAV's audio as mono s16 at `rate`, whatever its own format."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    chunks = []
    with av.open(path) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return numpy.concatenate(chunks).astype(numpy.int16)


class PacedTrack(MediaStreamTrack):
    """An audio track that plays `pcm` in 20 ms frames on the wall clock, then silence, like a live microphone."""

    kind = "audio"

    def __init__(self, pcm: numpy.ndarray, rate: int) -> None:
        super().__init__()
        self._pcm = pcm
        self._rate = rate
        self._samples = int(rate * FRAME_SECONDS)
        self._index = 0
        self._start: Optional[float] = None
        self.frames_sent = 0

    async def _next_pcm(self) -> tuple[numpy.ndarray, int]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._index * FRAME_SECONDS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        offset = self._index * self._samples
        chunk = self._pcm[offset : offset + self._samples]
        if len(chunk) < self._samples:
            chunk = numpy.pad(chunk, (0, self._samples - len(chunk)))
        self._index += 1
        self.frames_sent += 1
        return chunk, offset

    async def recv(self) -> av.AudioFrame:
        chunk, pts = await self._next_pcm()
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, self._rate)
        return frame


class Esp32MicTrack(PacedTrack):
    """
    The firmware's microphone path: 16 kHz mono PCM, Opus-encoded on the device (VOIP, 30 kbps, complexity 0, 20 ms).
    It yields encoded packets, which aiortc sends as they are (RTCRtpSender packs av.Packet without re-encoding).
    """

    def __init__(self, pcm: numpy.ndarray) -> None:
        super().__init__(pcm, 16000)
        self._encoder = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = 16000
        self._encoder.layout = "mono"
        self._encoder.format = "s16"
        self._encoder.bit_rate = 30000
        self._encoder.options = {"application": "voip", "compression_level": "0", "frame_duration": "20"}
        self._encoder.open()

    async def recv(self) -> av.Packet:
        # libopus emits exactly one packet per 20 ms frame; its pts carries the pre-skip, so stamp our own.
        packets: list[av.Packet] = []
        while not packets:
            frame = await super().recv()
            packets = self._encoder.encode(frame)
            pts = frame.pts
        packet = packets[0]
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, 16000)
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            # Drain (once: a drained encoder raises EOF): libopus holds one frame back and complains if freed with it.
            self._encoder.encode(None)
        super().stop()


class Recorder:
    """Decoded remote audio, downmixed and resampled to 16 kHz mono, appended in arrival order."""

    def __init__(self, report: Report, since: Callable[[], float]) -> None:
        self._report = report
        self._since = since
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RECORD_RATE)
        self._chunks: list[numpy.ndarray] = []
        self._last_pts: Optional[int] = None

    async def run(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._count(frame)
            self._chunks += [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]

    def _count(self, frame: av.AudioFrame) -> None:
        report = self._report
        if report.audio_frames_received == 0:
            report.ms_to_first_audio = self._since()
        report.audio_frames_received += 1
        # aiortc stamps decoded frames with the RTP timestamp: 960 per 20 ms at Opus's 48 kHz clock.
        if self._last_pts is not None and (frame.pts - self._last_pts) % 2**32 != frame.samples:
            report.audio_timestamp_gaps += 1
        self._last_pts = frame.pts

    def save(self, path: str) -> None:
        pcm = numpy.concatenate(self._chunks).astype(numpy.int16) if self._chunks else numpy.zeros(0, numpy.int16)
        with wave.open(path, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RECORD_RATE)
            out.writeframes(pcm.tobytes())
        self._report.recording = path
        level = float(numpy.sqrt(numpy.mean(pcm.astype(numpy.float64) ** 2))) if len(pcm) else 0.0
        self._report.received_rms = round(level, 1)


def rename_mids(sdp: str, mids: dict[str, str]) -> str:
    """aiortc numbers its mids; libpeer names them. aiortc takes the mids of whatever local description it is given."""
    for old, new in mids.items():
        sdp = re.sub(rf"^a=mid:{old}\r$", f"a=mid:{new}\r", sdp, flags=re.M)
    return re.sub(r"^a=group:BUNDLE .*\r$", "a=group:BUNDLE " + " ".join(mids.values()) + "\r", sdp, flags=re.M)


def libpeer_offer(local_sdp: str) -> str:
    """
    The offer as libpeer writes it (peer_connection_create_sdp), filled with this aiortc peer's real ICE credentials,
    fingerprint and candidates. After BUNDLE only the first m-line's ICE transport survives in aiortc, so its
    credentials and candidates are the ones to announce.
    """
    first_media = local_sdp.split("\r\nm=")[1]

    def attribute(name: str) -> str:
        match = re.search(rf"^a={name}:(.*)\r$", first_media, flags=re.M)
        if not match:
            raise ValueError(f"aiortc offer has no a={name}")
        return match.group(1)

    candidates = []
    for line in re.findall(r"^a=candidate:(.*)\r$", first_media, flags=re.M):
        _foundation, component, transport, _priority, address, port, _typ, kind = line.split()[:8]
        if transport.lower() != "udp" or kind not in ("host", "srflx"):
            continue
        # ice.c: priority = 2^24 * type preference + 2^8 * port + (256 - component). agent.c numbers a host
        # candidate's foundation by its index and a srflx one by the count after it; a srflx one's raddr is never set.
        if kind == "host":
            priority = (126 << 24) + (int(port) << 8) + (256 - int(component))
            candidates.append(f"a=candidate:{len(candidates)} {component} UDP {priority} {address} {port} typ host")
        else:
            priority = (100 << 24) + (int(port) << 8) + (256 - int(component))
            foundation = len(candidates) + 1
            candidates.append(
                f"a=candidate:{foundation} {component} UDP {priority} {address} {port} typ srflx raddr 0.0.0.0 rport 0"
            )
    lines = [
        "v=0",
        "o=- 1495799811084970 1495799811084970 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=msid-semantic: iot",
        "a=group:BUNDLE audio datachannel",
        f"a=ice-ufrag:{attribute('ice-ufrag')}",
        f"a=ice-pwd:{attribute('ice-pwd')}",
        f"a=fingerprint:{attribute('fingerprint')}",
        "a=setup:passive",
        f"m=audio 9 UDP/TLS/RTP/SAVP {LIBPEER_OPUS_PT}",
        "c=IN IP4 0.0.0.0",
        f"a=rtpmap:{LIBPEER_OPUS_PT} opus/48000/2",
        f"a=ssrc:{LIBPEER_OPUS_SSRC} cname:webrtc-opus",
        "a=sendrecv",
        "a=mid:audio",
        "a=rtcp-mux",
        f"m=application {LIBPEER_SCTP_MEDIA_PORT} UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=mid:datachannel",
        "a=sctp-port:5000",
        "a=max-message-size:262144",
        *candidates,
    ]
    return "".join(line + "\r\n" for line in lines)


def libpeer_answer_problems(sdp: str) -> list[str]:
    """
    Why libpeer could not use this answer, read the way it reads one (peer_connection_set_remote_description,
    agent_set_remote_description, ice_candidate_from_description): CRLF lines only; the text after the first 22
    characters of the LAST a=fingerprint line is compared with its uppercase SHA-256 digest; it stays the DTLS server;
    remote candidates go into a 10-slot array (no bounds check), one per foundation (read into a 33-byte field with
    %s), UDP host, srflx or relay only (what follows the type, raddr included, is not read), paired by IPv4; each line
    is copied into a 256-byte stack buffer with a NUL after it; the audio it plays is the RTP whose SSRC is the last
    a=ssrc after the m=audio line (an m=application line does not end that section).
    """
    if "\n" in sdp.replace("\r\n", ""):
        return ["libpeer: lines not CRLF-terminated: libpeer splits on CRLF only and would read nothing"]
    problems = []
    lines = sdp.split("\r\n")
    longest = max(len(line.encode()) for line in lines)
    if longest > 255:
        problems.append(f"a {longest}-byte line: libpeer copies lines into a 256-byte buffer and would overrun it")
    in_audio, audio_ssrc = False, None
    for line in lines:
        if "m=audio" in line or "m=video" in line:
            in_audio = "m=audio" in line
        if in_audio and "a=ssrc:" in line:
            audio_ssrc = line.split("a=ssrc:", 1)[1].split()[0]
    if audio_ssrc is None:
        problems.append("no a=ssrc in the audio section: libpeer would play no RTP from the server")
    fingerprints = [line for line in lines if "a=fingerprint" in line]
    sha256 = r"a=fingerprint:(?i:sha-256) [0-9A-F]{2}(:[0-9A-F]{2}){31}"
    if not fingerprints or not re.fullmatch(sha256, fingerprints[-1]):
        last = fingerprints[-1] if fingerprints else "missing"
        problems.append(f"last fingerprint line {last!r} is not an uppercase sha-256 one: DTLS would fail")
    if any(line.startswith("a=setup:") and line != "a=setup:active" for line in lines):
        problems.append("a=setup other than active: libpeer stays the DTLS server, so nobody would start the handshake")
    usable: dict[str, str] = {}
    for line in lines:
        fields = line.split()
        parsed = line.startswith("a=candidate:") and len(fields) >= 8
        if parsed and fields[2].lower() == "udp" and fields[7] in ("host", "srflx", "relay"):
            usable.setdefault(fields[0].removeprefix("a=candidate:"), fields[4])
    long_foundations = [foundation for foundation in usable if len(foundation) > 32]
    if long_foundations:
        problems.append(f"foundation {long_foundations[0]!r} is over 32 characters: libpeer's field holds 32")
    if len(usable) > 10:
        problems.append(f"{len(usable)} candidate foundations: libpeer stores 10 and writes past its array")
    if not any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address) for address in usable.values()):
        problems.append("no IPv4 UDP candidate: the device has nothing to pair with")
    return [f"libpeer: {problem}" for problem in problems]


def client_ready() -> dict[str, Any]:
    return {
        "label": "rtvi-ai",
        "type": "client-ready",
        "id": uuid.uuid4().hex[:8],
        "data": {
            "version": RTVI_VERSION,
            "about": {"library": "aiortc-interop-peer", "library_version": aiortc_version},
        },
    }


def app_messages() -> list[dict[str, Any]]:
    """One plain app message (non-ASCII text), one RTVI client-message, and one large enough to need SCTP fragments."""
    return [
        {"type": "interop-echo", "seq": 1, "text": "grüße ✓ from aiortc"},
        {
            "label": "rtvi-ai",
            "type": "client-message",
            "id": uuid.uuid4().hex[:8],
            "data": {"t": "interop", "d": {"seq": 2}},
        },
        {"type": "interop-echo", "seq": 3, "blob": "0123456789abcdef" * 1250},
    ]


class Peer:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.report = Report(profile="esp32" if options.esp32 else "aiortc", dc_label=options.label)
        stun = [RTCIceServer(urls=options.stun)] if options.stun else []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=stun))
        # Timings count from the POST: gathering happens before it, in setLocalDescription.
        self.start = time.monotonic()
        self.recorder = Recorder(self.report, lambda: ms_since(self.start))
        self.connected = asyncio.Event()
        self.channel_open = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.mic: Optional[PacedTrack] = None

    def _watch(self) -> None:
        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            state = self.pc.connectionState
            self.report.connection_states.append(state)
            if state == "connected" and not self.connected.is_set():
                self.report.ms_to_connected = ms_since(self.start)
                self.connected.set()

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self.tasks.append(asyncio.ensure_future(self.recorder.run(track)))

    def _open_channel(self) -> RTCDataChannel:
        channel = self.pc.createDataChannel(self.options.label)

        @channel.on("open")
        def on_open() -> None:
            self.report.ms_to_datachannel_open = ms_since(self.start)
            self.channel_open.set()

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            try:
                self.report.dc_received.append(json.loads(text))
            except ValueError:
                # Pipecat clients JSON.parse every inbound message; anything else is a server bug worth reporting.
                self.report.dc_received_non_json.append(text[:200])

        return channel

    async def _offer(self) -> str:
        """Sets the local offer and returns the SDP text to send."""
        offer = await self.pc.createOffer()
        if not self.options.esp32:
            await self.pc.setLocalDescription(offer)
            return self.pc.localDescription.sdp
        named = rename_mids(offer.sdp, {"0": "audio", "1": "datachannel"})
        await self.pc.setLocalDescription(RTCSessionDescription(named, "offer"))
        return libpeer_offer(self.pc.localDescription.sdp)

    async def _post(self, sdp: str) -> dict[str, Any]:
        esp32 = self.options.esp32
        body = {"sdp": sdp, "type": "offer"}
        # The firmware posts cJSON_Print output (tab-indented) with esp_http_client's headers, no Accept-Encoding.
        data = json.dumps(body, indent="\t", separators=(",", ":\t")) if esp32 else json.dumps(body)
        headers = {"Content-Type": "application/json", **({"User-Agent": ESP32_USER_AGENT} if esp32 else {})}
        timeout = aiohttp.ClientTimeout(total=ESP32_HTTP_TIMEOUT if esp32 else self.options.connect_timeout)
        posted = time.monotonic()
        async with aiohttp.ClientSession(timeout=timeout, skip_auto_headers=["Accept-Encoding"]) as session:
            async with session.post(f"{self.options.base}/api/offer", data=data, headers=headers) as response:
                self.report.http_status = response.status
                self.report.http_chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
                raw = await response.read()
        self.report.ms_offer_to_answer = ms_since(posted)
        self.report.http_body_bytes = len(raw)
        if self.report.http_status != 200:
            raise RuntimeError(f"POST /api/offer answered {self.report.http_status}: {raw[:300]!r}")
        if esp32 and self.report.http_chunked:
            raise RuntimeError("chunked answer: the firmware restarts on chunked responses (http.cpp)")
        if esp32 and len(raw) > ESP32_MAX_HTTP_BODY:
            raise RuntimeError(
                f"answer body is {len(raw)} bytes: the firmware keeps {ESP32_MAX_HTTP_BODY} and cannot parse it"
            )
        return json.loads(raw)

    def _send(self, channel: RTCDataChannel, message: Any) -> None:
        self.report.dc_sent.append(message)
        channel.send(json.dumps(message))

    async def _keepalive(self, channel: RTCDataChannel) -> None:
        """The JS client's liveness pings: plain strings, not JSON, once a second (docs/protocol.md §3.1)."""
        while channel.readyState == "open":
            channel.send(f"ping: {int(time.time() * 1000)}")
            await asyncio.sleep(1)

    async def run(self) -> None:
        options = self.options
        self._watch()
        pcm = load_pcm(options.wav, 16000 if options.esp32 else 48000)
        self.mic = Esp32MicTrack(pcm) if options.esp32 else PacedTrack(pcm, 48000)
        transceiver = self.pc.addTransceiver(self.mic, direction="sendrecv")
        if options.esp32:
            opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/opus"]
            transceiver.setCodecPreferences(opus)
            # The wire offer announces a=ssrc:6; RTP must carry it too.
            transceiver.sender._ssrc = LIBPEER_OPUS_SSRC
        channel = self._open_channel()

        offer_sdp = await self._offer()
        self.report.offer_sdp = offer_sdp
        self.start = time.monotonic()
        answer = await self._post(offer_sdp)
        self.report.pc_id = answer.get("pc_id")
        self.report.answer_sdp = answer.get("sdp", "")
        if options.esp32:
            # aiortc would cope with answers libpeer cannot use; a device would just fail, so stop here.
            problems = libpeer_answer_problems(self.report.answer_sdp)
            if problems:
                self.report.errors += problems
                return
        await self.pc.setRemoteDescription(RTCSessionDescription(self.report.answer_sdp, answer.get("type", "answer")))

        try:
            await asyncio.wait_for(self.connected.wait(), options.connect_timeout)
            await asyncio.wait_for(self.channel_open.wait(), options.connect_timeout)
        except asyncio.TimeoutError:
            self.report.errors.append(f"not connected with an open data channel within {options.connect_timeout} s")
            return
        self.report.connected = True
        self.report.datachannel_open = True

        if not options.esp32:
            ready = client_ready()
            self.report.client_ready_id = ready["id"]
            mic_on = {"type": "trackStatus", "receiver_index": 0, "enabled": True}
            self._send(channel, {"type": "signalling", "message": mic_on})
            self._send(channel, ready)
            for message in app_messages():
                self._send(channel, message)
            self.tasks.append(asyncio.ensure_future(self._keepalive(channel)))
        await asyncio.sleep(options.seconds)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pc.close(), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            self.report.errors.append(f"RTCPeerConnection.close() took over {CLOSE_TIMEOUT} s")
        # aiortc's sender stops the track as it ends; a call that never sent needs it here. Never before close():
        # the sender may still be inside the track's recv().
        if self.mic:
            self.report.audio_frames_sent = self.mic.frames_sent
            self.mic.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        os.makedirs(self.options.out_dir, exist_ok=True)
        self.recorder.save(os.path.join(self.options.out_dir, f"received-{self.report.profile}.wav"))


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="server base URL, e.g. http://127.0.0.1:7860")
    parser.add_argument("--wav", required=True, help="audio to send (any WAV; resampled as needed)")
    parser.add_argument("--seconds", type=float, default=6, help="how long to stay connected once the channel is open")
    parser.add_argument("--label", help="data channel label (default chat, or rtvi-ai with --esp32)")
    parser.add_argument(
        "--out-dir",
        default=os.path.join(tempfile.gettempdir(), "smallwebrtc-interop"),
        help="where the received audio WAV (16 kHz mono) is written",
    )
    parser.add_argument("--esp32", action="store_true", help="behave like the pipecat-esp32 firmware (libpeer)")
    parser.add_argument("--ice-address", default="127.0.0.1", help="the only host address to gather")
    parser.add_argument("--connect-timeout", type=float, default=15, help="seconds for the answer, then the connection")
    parser.add_argument("--stun", help="a STUN server URL to learn the peer's public address from (stun:HOST:PORT)")
    args = parser.parse_args(argv)
    label = args.label or ("rtvi-ai" if args.esp32 else "chat")
    return Options(
        base=args.base.rstrip("/"),
        wav=args.wav,
        seconds=args.seconds,
        label=label,
        out_dir=args.out_dir,
        esp32=args.esp32,
        ice_address=args.ice_address,
        connect_timeout=args.connect_timeout,
        stun=args.stun,
    )


async def main(argv: list[str]) -> int:
    options = parse_options(argv)
    use_host_address(options.ice_address)
    peer = Peer(options)
    try:
        await peer.run()
    except Exception as error:  # reported in the JSON line: the caller wants results, not a traceback
        peer.report.errors.append(f"{type(error).__name__}: {error}")
    finally:
        await peer.close()
    print(json.dumps(peer.report.__dict__), flush=True)
    return 0 if peer.report.connected else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except Exception as error:
        crash = f"peer crashed: {type(error).__name__}: {error}"
        print(json.dumps({"connected": False, "errors": [crash]}), flush=True)
        sys.exit(2)
