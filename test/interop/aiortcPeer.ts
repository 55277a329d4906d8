/**
 * Runs test/interop/aiortc_peer.py (a SmallWebRTC client on Debian's aiortc, Pipecat's own WebRTC stack) against a
 * server and returns its one-line JSON report, typed.
 */
import { join } from "node:path";
import { cacheDir, repoRoot } from "../../scripts/support/paths.ts";

/** Debian's python3-aiortc lives here; the pyenv python3 on PATH has no aiortc. */
const PYTHON = "/usr/bin/python3";
const PEER = join(repoRoot, "test/interop/aiortc_peer.py");

export interface AiortcPeerOptions {
  baseUrl: string;
  wav: string;
  /** How long the peer stays connected once its data channel is open. */
  seconds: number;
  /** Behave like the pipecat-esp32 firmware (libpeer offer, 16 kHz mono Opus, label rtvi-ai, no client-ready). */
  esp32?: boolean;
  label?: string;
  /** The only host address the peer gathers (default 127.0.0.1). */
  iceAddress?: string;
  connectTimeoutSeconds?: number;
  /** A STUN server URL: the peer also offers its server-reflexive address, as libpeer does with one configured. */
  stun?: string;
  /** Wraps the peer's command line, e.g. to run it in another network namespace (a client behind NAT). */
  launcher?: (command: string[]) => string[];
}

/** What aiortc_peer.py prints (field names as it prints them). Times are in ms from the offer POST. */
export interface AiortcPeerReport {
  connected: boolean;
  datachannel_open: boolean;
  profile: "aiortc" | "esp32";
  aiortc_version: string;
  http_status: number | null;
  http_body_bytes: number | null;
  /** Transfer-Encoding: chunked (the firmware restarts on it). */
  http_chunked: boolean | null;
  pc_id: string | null;
  ms_offer_to_answer: number | null;
  ms_to_connected: number | null;
  ms_to_datachannel_open: number | null;
  ms_to_first_audio: number | null;
  connection_states: string[];
  client_ready_id: string | null;
  dc_label: string;
  dc_sent: unknown[];
  dc_received: unknown[];
  dc_received_non_json: string[];
  audio_frames_sent: number;
  audio_frames_received: number;
  /** Received frames whose RTP timestamp did not follow on from the previous one. */
  audio_timestamp_gaps: number;
  received_rms: number;
  /** 16 kHz mono WAV of the decoded remote audio, in arrival order. */
  recording: string | null;
  offer_sdp: string;
  answer_sdp: string;
  errors: string[];
}

export async function runAiortcPeer(options: AiortcPeerOptions): Promise<AiortcPeerReport> {
  const connectTimeout = options.connectTimeoutSeconds ?? 15;
  const args = [
    "--base", options.baseUrl,
    "--wav", options.wav,
    "--seconds", String(options.seconds),
    "--out-dir", await cacheDir("interop"),
    "--connect-timeout", String(connectTimeout),
    ...(options.esp32 ? ["--esp32"] : []),
    ...(options.label ? ["--label", options.label] : []),
    ...(options.iceAddress ? ["--ice-address", options.iceAddress] : []),
    ...(options.stun ? ["--stun", options.stun] : []),
  ];
  const command = [PYTHON, PEER, ...args];
  const child = Bun.spawn(options.launcher?.(command) ?? command, { stdout: "pipe", stderr: "pipe" });
  // The answer and the connection each get connectTimeout, closing 5 s; a hung peer must still end with its output.
  const killer = setTimeout(() => child.kill("SIGKILL"), (options.seconds + 2 * connectTimeout + 15) * 1000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]).finally(() => clearTimeout(killer));
  // Exit code 2: the peer itself crashed, and its one line holds only the error.
  const line = stdout.trim().split("\n").at(-1) ?? "";
  if (code === 2 || !line.startsWith("{")) throw new Error(`aiortc peer exited with ${code}:\n${stdout}\n${stderr}`);
  return JSON.parse(line) as AiortcPeerReport;
}
