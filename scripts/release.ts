/**
 * Release artefacts next to the binaries in dist/: SHA256SUMS, and THIRD_PARTY_LICENSES.md listing every component
 * the binaries embed, with its licence text. libav.js is LGPL-2.1: the notice says where its source is and how to
 * replace it in a built binary.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");

interface Component {
  name: string;
  version: string;
  license: string;
  why: string;
  text?: string;
}

function npmComponent(name: string, why: string): Component {
  const dir = join(ROOT, "node_modules", name);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const licenseFile = readdirSync(dir).find((file) => /^(licen[cs]e|copying)(\.|$)/i.test(file));
  return {
    name,
    version: manifest.version,
    // Older manifests (e.g. @jitsi/rnnoise-wasm's) give a "licenses" list of {type} instead of a "license" string.
    license: typeof manifest.license === "string"
      ? manifest.license
      : (manifest.licenses as { type: string }[] | undefined)?.map((entry) => entry.type).join(" OR ") ??
        JSON.stringify(manifest.license),
    why,
    text: licenseFile && readFileSync(join(dir, licenseFile), "utf8"),
  };
}

/** Production dependencies of the server, as npm resolved them (they are bundled into the binary). */
function serverPackages(): string[] {
  const result = Bun.spawnSync(["npm", "ls", "--omit=dev", "--all", "--parseable"], { cwd: ROOT });
  return [...new Set(result.stdout.toString().split("\n").filter((line) => line.includes("node_modules/"))
    .map((line) => line.slice(line.lastIndexOf("node_modules/") + "node_modules/".length)))].sort();
}

const EMBEDDED_WHY: Record<string, string> = {
  "@evan/opus": "Opus codec (libopus, BSD-3-Clause) as WebAssembly",
  "@echogarden/speex-resampler-wasm": "Speex resampler as WebAssembly",
  "@libav.js/variant-vp8-opus": "VP8 codec (libvpx via libav.js) as WebAssembly",
  tinyh264: "H.264 baseline decoder (h264bsd) as WebAssembly",
  "@jitsi/rnnoise-wasm": "RNNoise noise suppression (BSD-3-Clause, xiph/rnnoise) as WebAssembly",
  "onnxruntime-web": "ONNX runtime (WebAssembly) for voice activity detection",
  "@ricky0123/vad-web": "source of the Silero VAD v5 model (MIT, snakers4/silero-vad)",
};

const LGPL_NOTICE = `## libav.js (LGPL-2.1)

The VP8 codec is libav.js ${npmComponent("@libav.js/variant-vp8-opus", "").version} ("vp8-opus" variant), FFmpeg's libraries with libvpx and
libopus compiled to WebAssembly, licensed under the LGPL 2.1. Its complete source, and the build recipe for this
variant, are at https://github.com/Yahweasel/libav.js (tag v6.10.9.0; \`make build-vp8-opus\`), which also names
the FFmpeg, libvpx and libopus sources it builds from.

To use your own build instead of the embedded one, without rebuilding smallwebrtc: put your
\`libav-6.10.9.0-vp8-opus.wasm.wasm\` into a directory as \`libav-vp8-opus.wasm\` and start the server with
\`"assetsDir": "/that/directory"\` in the config (or \`SMALLWEBRTC_ASSETS_DIR\`). The same works for every embedded
WebAssembly file. The server checks a replacement at start-up: it must export everything the embedded build exports
and import nothing more. Otherwise the server stops with one line naming the file and what is missing. You can also
rebuild the binary from this repository's source with \`scripts/build\`.
`;

const binaries = readdirSync(DIST).filter((file) => file.startsWith("smallwebrtc-linux-"));
if (binaries.length === 0) throw new Error("no binaries in dist/: run scripts/build");
const sums = binaries.map((file) => `${createHash("sha256").update(readFileSync(join(DIST, file))).digest("hex")}  ${file}`);
writeFileSync(join(DIST, "SHA256SUMS"), `${sums.join("\n")}\n`);

const bunManifest = JSON.parse(readFileSync(join(ROOT, "node_modules/bun/package.json"), "utf8"));
const components: Component[] = [
  {
    name: "Bun runtime",
    version: bunManifest.version,
    license: "MIT (Bun); LGPL-2 and BSD (JavaScriptCore, from WebKit: https://github.com/oven-sh/WebKit)",
    why: "the executable itself (bun build --compile); sources at https://github.com/oven-sh/bun",
  },
  ...serverPackages().map((name) => npmComponent(name, EMBEDDED_WHY[name] ?? "bundled server code")),
  // @jitsi/rnnoise-wasm ships its own licence (Apache-2.0) but not that of RNNoise, which its .wasm is built from.
  {
    name: "RNNoise",
    version: "xiph/rnnoise, as built into @jitsi/rnnoise-wasm",
    license: "BSD-3-Clause",
    why: "noise suppression (audio.inFilter, RNNoiseFilter); source at https://github.com/xiph/rnnoise",
    text: readFileSync(join(ROOT, "scripts/notices/rnnoise-COPYING.txt"), "utf8"),
  },
  ...["@pipecat-ai/client-js", "@pipecat-ai/small-webrtc-transport"].map((name) => npmComponent(name, "the /client test page")),
];
const listing = components.map((c) => `| ${c.name} | ${c.version} | ${c.license} | ${c.why} |`).join("\n");
const texts = components.filter((c) => c.text).map((c) => `### ${c.name} ${c.version}\n\n\`\`\`\n${c.text!.trim()}\n\`\`\``).join("\n\n");
writeFileSync(
  join(DIST, "THIRD_PARTY_LICENSES.md"),
  `# Third-party components in smallwebrtc ${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n\n` +
    `| component | version | licence | what for |\n|---|---|---|---|\n${listing}\n\n${LGPL_NOTICE}\n## Licence texts\n\n${texts}\n`,
);
console.log(`dist/SHA256SUMS:\n${sums.join("\n")}\ndist/THIRD_PARTY_LICENSES.md: ${components.length} components`);
if (!existsSync(join(DIST, "THIRD_PARTY_LICENSES.md"))) process.exit(1);
