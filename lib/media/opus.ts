/**
 * libopus (RFC 6716) encoder and decoder over the WASM build shipped by @evan/opus, with our own binding to its plain
 * C exports. The module is compiled and instantiated once per process: every encoder and decoder is a malloc'ed state
 * in that one heap, so a session costs its codec state (tens of kB), not a WASM instance (megabytes).
 */
import { instantiateBundled } from "../assets/bundledFiles.ts";
import { type WasmBinding, type WasmExports, wasmFunction, wasmMemory } from "../assets/wasmInterface.ts";
import { WasmHeap } from "./wasmHeap.ts";

export type OpusSampleRate = 8000 | 12000 | 16000 | 24000 | 48000;
export type OpusChannels = 1 | 2;
/** "voip" favours intelligibility of speech, "audio" fidelity of music, "lowdelay" drops the SILK layer (CELT only). */
export type OpusApplication = "voip" | "audio" | "lowdelay";

export interface OpusEncoderOptions {
  sampleRate: OpusSampleRate;
  channels: OpusChannels;
  /**
   * Default "voip": it keeps speech in SILK or hybrid mode, which also carries in-band FEC. "audio" below complexity 7
   * skips libopus's signal analysis and codes speech as CELT only: far cheaper (75 us) but without SILK's speech tools.
   */
  application?: OpusApplication;
  /** Bits per second. Default 32000, libwebrtc's rate for fullband mono speech (and what browsers send us). */
  bitrate?: number;
  /**
   * 0-10. Default 5, libwebrtc's choice on phones: about half the CPU of libopus's default (9), 175 vs 325 us per
   * 20 ms frame on Bun, for slightly less spectral detail. That margin is what lets one core carry 30+ sessions.
   */
  complexity?: number;
  /** In-band FEC (LBRR) for the previous frame. Only coded while `packetLossPercent` > 0. Default off. */
  inbandFec?: boolean;
  /** Expected loss, 0-100: makes the encoder spend bits on robustness (and on FEC when enabled). Default 0. */
  packetLossPercent?: number;
  /** Discontinuous transmission: send a packet only every 400 ms during silence. Default off. */
  dtx?: boolean;
}

export interface OpusDecoderOptions {
  /** Output rate. Any Opus packet decodes at any of these rates: the packet does not fix the rate. */
  sampleRate: OpusSampleRate;
  /** Output channels. Stereo packets are downmixed for a mono decoder and mono ones duplicated for stereo. */
  channels: OpusChannels;
}

/** A libopus failure; `code` is the libopus error number (OPUS_BAD_ARG = -1 ... OPUS_ALLOC_FAIL = -7). */
export class OpusError extends Error {
  override name = "OpusError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const OPUS_BAD_ARG = -1;
const OPUS_INVALID_STATE = -6;

const APPLICATION = { voip: 2048, audio: 2049, lowdelay: 2051 } as const;

// Request numbers from opus_defines.h; the module exposes ctl as `ctl_set(st, request, value)` and
// `ctl_get(st, request) -> value` because variadic C functions cannot be called from JS.
const CTL = {
  setBitrate: 4002,
  setComplexity: 4010,
  getComplexity: 4011,
  setInbandFec: 4012,
  setPacketLossPercent: 4014,
  setDtx: 4016,
  getLookahead: 4027,
} as const;

/** 120 ms at 48 kHz: the longest Opus packet, so any packet decodes into the scratch buffer. */
const MAX_FRAME_SAMPLES = 5760;
/** libopus's recommended ceiling for one encoded packet; larger than any RTP payload within an MTU. */
const MAX_PACKET_BYTES = 4000;

/**
 * The libopus build as this binding uses it: the exports it calls (checked against the module before anything is
 * called, see lib/assets/bundledFiles.ts) and the imports it supplies. The module is an emscripten "standalone"
 * reactor: WASI stubs for a libc that never does I/O here, and a growth notification we do not need because WasmHeap
 * notices a replaced buffer by itself.
 */
export const OPUS_WASM = {
  file: "opus.wasm",
  exports: {
    memory: wasmMemory,
    _initialize: wasmFunction<() => void>(),
    malloc: wasmFunction<(bytes: number) => number>(),
    free: wasmFunction<(pointer: number) => void>(),
    opus_strerror: wasmFunction<(code: number) => number>(),
    opus_encoder_get_size: wasmFunction<(channels: number) => number>(),
    opus_encoder_init:
      wasmFunction<(state: number, sampleRate: number, channels: number, application: number) => number>(),
    opus_encode:
      wasmFunction<(state: number, pcm: number, frameSize: number, packet: number, maxPacketBytes: number) => number>(),
    opus_encoder_ctl_set: wasmFunction<(state: number, request: number, value: number) => number>(),
    opus_encoder_ctl_get: wasmFunction<(state: number, request: number) => number>(),
    opus_decoder_get_size: wasmFunction<(channels: number) => number>(),
    opus_decoder_init: wasmFunction<(state: number, sampleRate: number, channels: number) => number>(),
    opus_decode: wasmFunction<
      (state: number, packet: number, length: number, pcm: number, frameSize: number, fec: number) => number
    >(),
  },
  imports: {
    wasi_snapshot_preview1: {
      fd_write: enosys,
      fd_close: enosys,
      fd_seek: enosys,
      proc_exit: (code: number) => {
        throw new Error(`libopus aborted (exit ${code})`);
      },
    },
    env: { emscripten_notify_memory_growth: () => {} },
  },
} satisfies WasmBinding;

type OpusExports = WasmExports<typeof OPUS_WASM.exports>;

function enosys(): number {
  return 52;
}

/** The shared instance, plus one PCM and one packet scratch buffer: calls are synchronous, so sessions share them. */
class OpusRuntime {
  readonly heap: WasmHeap;
  readonly pcm: number;
  readonly packet: number;

  constructor(readonly wasm: OpusExports) {
    this.heap = new WasmHeap(wasm.memory, wasm);
    this.pcm = this.heap.malloc(MAX_FRAME_SAMPLES * 2 * Int16Array.BYTES_PER_ELEMENT);
    this.packet = this.heap.malloc(MAX_PACKET_BYTES);
  }

  /** Passes non-negative results through and turns libopus error codes into OpusError. */
  check(result: number, context: string): number {
    if (result >= 0) return result;
    throw new OpusError(result, `${context}: ${this.heap.cString(this.wasm.opus_strerror(result))}`);
  }
}

let runtime: OpusRuntime | undefined;

function opusRuntime(): OpusRuntime {
  if (runtime) return runtime;
  const wasm = instantiateBundled(OPUS_WASM);
  wasm._initialize();
  return (runtime = new OpusRuntime(wasm));
}

/**
 * Size of the shared Opus heap: it grows with the number of live encoders and decoders (about 44 and 18 kB each, mono)
 * and never shrinks, but freed states are reused. For metrics, and for leak tests.
 */
export function opusHeapBytes(): number {
  return opusRuntime().heap.byteLength;
}

// Frees states whose owner was garbage-collected without free(): a leaked session must not leak heap forever.
const orphans = new FinalizationRegistry<number>((state) => runtime?.heap.free(state));

abstract class OpusState {
  protected readonly runtime = opusRuntime();
  #state: number;

  constructor(bytes: number) {
    this.#state = this.runtime.heap.malloc(bytes);
    orphans.register(this, this.#state, this);
  }

  protected state(operation: string): number {
    if (this.#state === 0) throw new OpusError(OPUS_INVALID_STATE, `${operation} after free()`);
    return this.#state;
  }

  /** Returns the state to the shared heap. Idempotent; any later call throws. */
  free(): void {
    if (this.#state === 0) return;
    orphans.unregister(this);
    this.runtime.heap.free(this.#state);
    this.#state = 0;
  }

  [Symbol.dispose](): void {
    this.free();
  }

  /** Frees the half-built state when init fails, then rethrows. */
  protected initOrFree(result: number, context: string): void {
    try {
      this.runtime.check(result, context);
    } catch (error) {
      this.free();
      throw error;
    }
  }
}

export class OpusEncoder extends OpusState {
  readonly sampleRate: OpusSampleRate;
  readonly channels: OpusChannels;

  constructor(options: OpusEncoderOptions) {
    const { sampleRate, channels, application = "voip" } = options;
    super(opusRuntime().wasm.opus_encoder_get_size(channels));
    this.sampleRate = sampleRate;
    this.channels = channels;
    const { wasm } = this.runtime;
    const state = this.state("init");
    this.initOrFree(wasm.opus_encoder_init(state, sampleRate, channels, APPLICATION[application]), "encoder init");
    const settings: [number, number][] = [
      [CTL.setBitrate, options.bitrate ?? 32000],
      [CTL.setComplexity, options.complexity ?? 5],
      [CTL.setInbandFec, options.inbandFec ? 1 : 0],
      [CTL.setPacketLossPercent, options.packetLossPercent ?? 0],
      [CTL.setDtx, options.dtx ? 1 : 0],
    ];
    for (const [request, value] of settings) {
      this.initOrFree(wasm.opus_encoder_ctl_set(state, request, value), `encoder ctl ${request}=${value}`);
    }
  }

  get complexity(): number {
    return this.runtime.wasm.opus_encoder_ctl_get(this.state("complexity"), CTL.getComplexity);
  }

  /** Changes the complexity (0-10) from the next frame on; libopus allows it at any time. */
  setComplexity(complexity: number): void {
    const state = this.state("setComplexity");
    this.runtime.check(this.runtime.wasm.opus_encoder_ctl_set(state, CTL.setComplexity, complexity), "setComplexity");
  }

  /** Samples per channel the encoder delays its output by (312 at 48 kHz with VOIP/AUDIO: 2.5 ms + 4 ms). */
  get lookahead(): number {
    return this.runtime.wasm.opus_encoder_ctl_get(this.state("lookahead"), CTL.getLookahead);
  }

  /**
   * Encodes exactly one frame of interleaved PCM (2.5, 5, 10, 20, 40 or 60 ms) and returns a new packet.
   * A result of 1-2 bytes is a DTX/silence packet: libopus says it need not be sent, though it decodes fine.
   */
  encode(pcm: Int16Array): Uint8Array {
    const state = this.state("encode");
    const frameSize = pcm.length / this.channels;
    if (!Number.isInteger(frameSize) || frameSize > MAX_FRAME_SAMPLES) {
      throw new OpusError(OPUS_BAD_ARG, `encode: ${pcm.length} samples is not a frame of ${this.channels} channels`);
    }
    const { heap, wasm, pcm: pcmPointer, packet } = this.runtime;
    heap.writeInt16(pcmPointer, pcm);
    const length = this.runtime.check(
      wasm.opus_encode(state, pcmPointer, frameSize, packet, MAX_PACKET_BYTES),
      "encode",
    );
    return heap.readBytes(packet, length);
  }
}

export class OpusDecoder extends OpusState {
  readonly sampleRate: OpusSampleRate;
  readonly channels: OpusChannels;
  readonly #maxFrameSamples: number;

  constructor(options: OpusDecoderOptions) {
    const { sampleRate, channels } = options;
    super(opusRuntime().wasm.opus_decoder_get_size(channels));
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.#maxFrameSamples = (sampleRate * 120) / 1000;
    this.initOrFree(this.runtime.wasm.opus_decoder_init(this.state("init"), sampleRate, channels), "decoder init");
  }

  /** Decodes one packet into interleaved PCM at the decoder's rate; the packet's own duration decides the length. */
  decode(packet: Uint8Array): Int16Array {
    return this.#decode("decode", packet, this.#maxFrameSamples, 0);
  }

  /**
   * Packet-loss concealment: synthesises `samples` per channel (a multiple of 2.5 ms, normally the lost packet's
   * duration) that continue the previous audio smoothly, and keeps the decoder state in step.
   */
  conceal(samples: number): Int16Array {
    return this.#decode("conceal", undefined, samples, 0);
  }

  /**
   * Recovers a lost frame of `samples` per channel from the in-band FEC (LBRR) carried by the packet that followed
   * it (RFC 6716 section 2.1.7). Afterwards, decode `nextPacket` itself as usual. Without FEC data in `nextPacket`
   * libopus falls back to concealment, so this never does worse than `conceal()`.
   */
  decodeFec(nextPacket: Uint8Array, samples: number): Int16Array {
    return this.#decode("decodeFec", nextPacket, samples, 1);
  }

  #decode(operation: string, packet: Uint8Array | undefined, frameSize: number, fec: 0 | 1): Int16Array {
    const state = this.state(operation);
    // An empty packet means "lost" to libopus, which would then conceal a whole 120 ms: make loss explicit instead.
    if (packet && (packet.length === 0 || packet.length > MAX_PACKET_BYTES)) {
      throw new OpusError(OPUS_BAD_ARG, `${operation}: packet of ${packet.length} bytes`);
    }
    if (!Number.isInteger(frameSize) || frameSize <= 0 || frameSize > this.#maxFrameSamples) {
      throw new OpusError(OPUS_BAD_ARG, `${operation}: ${frameSize} samples per channel`);
    }
    const { heap, wasm, pcm, packet: packetPointer } = this.runtime;
    if (packet) heap.writeBytes(packetPointer, packet);
    const samples = this.runtime.check(
      wasm.opus_decode(state, packet ? packetPointer : 0, packet?.length ?? 0, pcm, frameSize, fec),
      operation,
    );
    return heap.readInt16(pcm, samples * this.channels);
  }
}

/**
 * Encodes and decodes speech-like audio for `milliseconds` of wall time so JSC has compiled the hot WASM functions
 * with its optimising tier before the first session arrives: until then Bun runs them about 2x slower, and the
 * background compiles finish after roughly 300 ms of codec work. Call once at start-up.
 */
export function warmUpOpus(milliseconds = 400): void {
  const sampleRate = 48000;
  const frame = new Int16Array(sampleRate / 50);
  const encoder = new OpusEncoder({ sampleRate, channels: 1 });
  const decoder = new OpusDecoder({ sampleRate, channels: 1 });
  const start = performance.now();
  try {
    let phase = 0;
    let noise = 1;
    for (let n = 0; performance.now() - start < milliseconds; n++) {
      // Voiced syllables (a gliding pitch with harmonics) alternating with noise: exercises both SILK's pitch
      // analysis and its unvoiced path, and CELT's band coding in hybrid mode, as real speech does.
      const voiced = n % 10 < 7;
      for (let i = 0; i < frame.length; i++) {
        noise = (noise * 1103515245 + 12345) >>> 0;
        phase += (2 * Math.PI * (120 + 60 * Math.sin(n / 15))) / sampleRate;
        const harmonics = Math.sin(phase) + Math.sin(2 * phase) / 2 + Math.sin(3 * phase) / 3;
        frame[i] = voiced ? 8000 * harmonics : (noise >>> 20) - 2048;
      }
      decoder.decode(encoder.encode(frame));
    }
  } finally {
    encoder.free();
    decoder.free();
  }
}
