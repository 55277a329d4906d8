#!/usr/bin/python3
"""Reference for scripts/bench audio-path: the per-session audio path of Pipecat's SmallWebRTC transport on aiortc.

Usage: aiortc_audio_path.py PACKETS_FILE OUT_RATE REPEAT
PACKETS_FILE holds length-prefixed (uint16 LE) Opus packets of 20 ms each. For every packet this does what Pipecat
does for one session: aiortc decodes to 48 kHz stereo, PyAV resamples to 16 kHz mono for the pipeline, the bot's
output (OUT_RATE mono) is re-encoded by aiortc's encoder (ratecv to 48 kHz, stereo, libopus). Prints one JSON line
with the CPU microseconds per 20 ms frame.
"""
import json
import struct
import sys
import time

import av
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame


def main() -> None:
    path, out_rate, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = open(path, "rb").read()
    packets, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<H", data, offset)
        packets.append(data[offset + 2 : offset + 2 + length])
        offset += 2 + length

    best = None
    for _ in range(repeat):
        decoder, encoder = OpusDecoder(), OpusEncoder()
        to_pipeline = av.AudioResampler(format="s16", layout="mono", rate=16000)
        to_output = av.AudioResampler(format="s16", layout="mono", rate=out_rate) if out_rate != 16000 else None
        start = time.process_time()
        for index, packet in enumerate(packets):
            for frame in decoder.decode(JitterFrame(data=packet, timestamp=index * 960)):
                for pipeline_frame in to_pipeline.resample(frame):
                    outputs = to_output.resample(pipeline_frame) if to_output else [pipeline_frame]
                    for out in outputs:
                        out.pts = index * out.samples
                        if out.samples * 50 == out.sample_rate:
                            encoder.encode(out)
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"us_per_frame": best / len(packets) * 1e6, "frames": len(packets)}))


if __name__ == "__main__":
    main()
