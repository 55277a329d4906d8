/**
 * Benchmark: CPU time of one session's full audio path per 20 ms (decode, to the pipeline rate, back to the
 * encoder, encode), ours against aiortc's (Pipecat's stack) on the same packets in the same run.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAudioDecoder, createAudioEncoder } from "../../lib/media/audioCodecs.ts";
import { OpusEncoder } from "../../lib/media/opus.ts";
import { Resampler } from "../../lib/media/resampler.ts";
import { warmUpAudio } from "../../lib/media/warmUp.ts";
import { readWav } from "../support/audio.ts";
import { speechWav } from "../support/media.ts";

export interface AudioPathResult {
  case: string;
  ours: number;
  aiortc: number;
  ratio: number;
}

const OPUS = { mimeType: "audio/opus", clockRate: 48000, channels: 2 };
const REPEAT = 5;

/** Browser-like packets: 48 kHz mono speech, 32 kbps, 20 ms. */
function browserPackets(pcm: Int16Array): Uint8Array[] {
  const encoder = new OpusEncoder({ sampleRate: 48000, channels: 1, complexity: 9 });
  const packets: Uint8Array[] = [];
  for (let i = 0; (i + 1) * 960 <= pcm.length; i++) packets.push(encoder.encode(pcm.subarray(i * 960, (i + 1) * 960)));
  encoder.free();
  return packets;
}

/** Our path for one session: decode at 16 kHz, the bot's output at `outRate`, encode. Best of REPEAT, us per frame. */
function ours(packets: Uint8Array[], outRate: number): number {
  let best = Infinity;
  for (let round = 0; round < REPEAT; round++) {
    const decoder = createAudioDecoder(OPUS, 16000);
    const encoder = createAudioEncoder(OPUS, outRate);
    const toEncoder = encoder.sampleRate === 16000 ? undefined : new Resampler({ inputRate: 16000, outputRate: encoder.sampleRate });
    let pending = new Int16Array(0);
    const start = process.cpuUsage();
    for (const packet of packets) {
      const pcm = decoder.decode(packet);
      const out = toEncoder ? toEncoder.process(pcm) : pcm;
      const joined = new Int16Array(pending.length + out.length);
      joined.set(pending);
      joined.set(out, pending.length);
      let offset = 0;
      for (; offset + encoder.frameSamples <= joined.length; offset += encoder.frameSamples) {
        encoder.encode(joined.subarray(offset, offset + encoder.frameSamples));
      }
      pending = joined.slice(offset);
    }
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / packets.length);
    decoder.free();
    encoder.free();
    toEncoder?.free();
  }
  return best;
}

function aiortc(packetFile: string, outRate: number): number {
  const script = join(import.meta.dirname, "aiortc_audio_path.py");
  const result = Bun.spawnSync(["/usr/bin/python3", script, packetFile, String(outRate), String(REPEAT)]);
  if (!result.success) throw new Error(`aiortc reference failed: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString()).us_per_frame;
}

export async function benchAudioPath(): Promise<AudioPathResult[]> {
  await warmUpAudio(600);
  const speech = readWav(await speechWav()).pcm;
  const packets = browserPackets(speech);
  const packetFile = join(mkdtempSync(join(tmpdir(), "swrtc-bench-")), "packets.bin");
  writeFileSync(packetFile, Buffer.concat(packets.flatMap((p) => [Buffer.from(Uint16Array.of(p.length).buffer), Buffer.from(p)])));

  return [
    ["echo bot (16 kHz out)", 16000],
    ["TTS-rate bot (24 kHz out)", 24000],
  ].map(([name, rate]) => {
    const ourUs = ours(packets, rate as number);
    const theirUs = aiortc(packetFile, rate as number);
    return { case: name as string, ours: ourUs, aiortc: theirUs, ratio: ourUs / theirUs };
  });
}
