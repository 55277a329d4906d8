/**
 * The VP8 codec thread (lib/media/vp8Thread.ts) starts and serves the mirror bot in every way the server runs: Bun
 * from source, Deno through its task (with the task's permission flags), and the x64 binary from an empty directory
 * with the sources hidden, where the thread's entry must come from inside the binary. A werift client sends VP8 camera
 * video and must get its pictures back as bot video it can decode.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Vp8Decoder, Vp8Encoder } from "../../lib/media/vp8.ts";
import { Vp8Depacketiser, Vp8Packetiser } from "../../lib/media/vp8Rtp.ts";
import { rgbToI420 } from "../../lib/media/yuv.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { psnrY, syntheticRgb } from "../support/syntheticVideo.ts";
import { hidingSources, isolatedCopy, X64 } from "./support/isolatedBinary.ts";

const RUNS: Record<string, () => { command: string[]; cwd?: string }> = {
  "Bun from source": () => ({ command: [process.execPath, "main.ts"] }),
  "Deno through deno task start": () => ({ command: [...SOURCE_COMMANDS.deno] }),
  "the x64 binary, isolated": () => {
    const { dir, binary } = isolatedCopy(X64);
    return { command: hidingSources(binary), cwd: dir };
  },
};

const FRAMES = 30;
const SOURCES = Array.from({ length: FRAMES }, (_, i) => rgbToI420(syntheticRgb(320, 240, i)));
let camera: Uint8Array[][];
let server: ServerProcess | undefined;
let client: TestClient | undefined;

beforeAll(async () => {
  // 2 s at 15 fps, starting with a keyframe: the client loops it, as a camera keeps sending.
  const encoder = await Vp8Encoder.create({ framerate: 15 });
  const packetiser = new Vp8Packetiser();
  camera = [];
  for (let i = 0; i < FRAMES; i++) {
    for (const { data } of await encoder.encode(SOURCES[i], { timestampMs: i * 66 })) {
      camera.push(packetiser.packetise(data));
    }
  }
  encoder.close();
});

afterEach(async () => {
  await client?.close();
  await server?.stop();
  [client, server] = [undefined, undefined];
});

describe("VP8 codec thread", () => {
  for (const [name, run] of Object.entries(RUNS)) {
    test(`${name}: the mirror bot sends the camera back`, async () => {
      const { command, cwd } = run();
      server = await startServerProcess({ command, cwd: cwd ?? repoRoot, args: ["--bot", "mirror"] });
      client = new TestClient({ videoCodecs: ["VP8"] });
      const response = await fetch(`${server.url}/api/offer`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(await client.offer()),
      });
      await client.accept(await response.json());
      await client.channelOpen();
      let streaming = true;
      const stream = client.streamVideo(camera, 15, () => !streaming);
      try {
        await eventually(() => mirroredPictures(client!), 20_000, "10 mirrored pictures", { pollMs: 500 });
        expect(server.output()).not.toContain("VP8 codec thread");
      } finally {
        streaming = false;
        await stream;
      }
    }, 60_000);
  }
});

/** Whether the bot video received so far decodes into at least 10 pictures like the ones sent, at their size. */
async function mirroredPictures(peer: TestClient): Promise<boolean> {
  const depacketiser = new Vp8Depacketiser();
  const decoder = await Vp8Decoder.create();
  let good = 0;
  try {
    for (const rtp of peer.videoIn) {
      const { frame } = depacketiser.push({ ...rtp.header, payload: rtp.payload });
      const image = frame && (await decoder.decode(frame.data));
      if (!image) continue;
      if (image.width !== 320 || image.height !== 240) continue;
      if (Math.max(...SOURCES.map((source) => psnrY(source, image))) > 28) good++;
      if (good >= 10) return true;
    }
  } finally {
    decoder.close();
  }
  return false;
}
