/**
 * Streaming sample-rate conversion with the Speex resampler (the one in libspeexdsp), over the WASM build shipped by
 * @echogarden/speex-resampler-wasm, with our own binding to its exports. As with Opus, one instance per process
 * serves every resampler; each resampler is a few kB of filter state in that heap.
 */
import { instantiateBundled } from "../assets/bundledFiles.ts";
import { type WasmBinding, type WasmExports, wasmFunction, wasmMemory } from "../assets/wasmInterface.ts";
import { emscriptenHeapImports, WasmHeap } from "./wasmHeap.ts";

export interface ResamplerOptions {
  inputRate: number;
  outputRate: number;
  /** Interleaved channels in and out. Default 1. */
  channels?: number;
  /**
   * Speex quality 0-10. Default 5: flat to 6.5 kHz for 16 kHz output, and a 10 kHz tone does not alias into the
   * 48 -> 16 kHz result at all, for about 15 us per 20 ms (quality 10 costs about 90 us).
   */
  quality?: number;
}

const speexImports = emscriptenHeapImports(() => heap!.memory);

/**
 * The speex build as this binding uses it. Its exports are minified; the names follow its emscripten glue
 * (`_speex_resampler_init` = "e", ...). Binding them is safe only because the module is checked against this
 * declaration (and, unless replaced, its pinned hash) before anything is called: see lib/assets/bundledFiles.ts.
 */
export const SPEEX_WASM = {
  file: "speex-resampler.wasm",
  exports: {
    c: wasmMemory,
    /** __wasm_call_ctors */
    d: wasmFunction<() => void>(),
    /** speex_resampler_init(channels, inRate, outRate, quality, *err) -> state or 0 */
    e: wasmFunction<
      (channels: number, inputRate: number, outputRate: number, quality: number, error: number) => number
    >(),
    /** free */
    h: wasmFunction<(pointer: number) => void>(),
    /** speex_resampler_destroy */
    j: wasmFunction<(state: number) => void>(),
    /** speex_resampler_process_interleaved_int(state, in, *inFrames, out, *outFrames) -> err */
    o: wasmFunction<
      (state: number, input: number, inputFrames: number, output: number, outputFrames: number) => number
    >(),
    /** speex_resampler_skip_zeros */
    z: wasmFunction<(state: number) => number>(),
    /** speex_resampler_strerror */
    B: wasmFunction<(code: number) => number>(),
    /** malloc */
    C: wasmFunction<(bytes: number) => number>(),
  },
  // emscripten's heap growth for malloc ("a") and its memcpy for large copies ("b").
  imports: { a: { a: speexImports.resizeHeap, b: speexImports.memcpyBig } },
} satisfies WasmBinding;

type SpeexExports = WasmExports<typeof SPEEX_WASM.exports>;

/** Samples per scratch buffer; longer inputs are fed through in slices, so arbitrary chunk sizes need no realloc. */
const SCRATCH_SAMPLES = 16384;

/** Shared instance plus scratch: in/out sample buffers and the two in/out frame counters speex reads and updates. */
class SpeexRuntime {
  readonly input: number;
  readonly output: number;
  readonly inputFrames: number;
  readonly outputFrames: number;

  constructor(
    readonly wasm: SpeexExports,
    readonly heap: WasmHeap,
  ) {
    this.input = heap.malloc(SCRATCH_SAMPLES * Int16Array.BYTES_PER_ELEMENT);
    this.output = heap.malloc(SCRATCH_SAMPLES * Int16Array.BYTES_PER_ELEMENT);
    this.inputFrames = heap.malloc(8);
    this.outputFrames = this.inputFrames + 4;
  }

  error(code: number): string {
    return this.heap.cString(this.wasm.B(code));
  }
}

let runtime: SpeexRuntime | undefined;
/** The shared instance's heap, which the imports above grow and copy within. */
let heap: WasmHeap | undefined;

function speexRuntime(): SpeexRuntime {
  if (runtime) return runtime;
  const wasm = instantiateBundled(SPEEX_WASM);
  heap = new WasmHeap(wasm.c, { malloc: wasm.C, free: wasm.h });
  wasm.d();
  return (runtime = new SpeexRuntime(wasm, heap));
}

// Destroys states whose owner was garbage-collected without free(): a leaked session must not leak heap forever.
const orphans = new FinalizationRegistry<number>((state) => runtime?.wasm.j(state));

export class Resampler {
  readonly inputRate: number;
  readonly outputRate: number;
  readonly channels: number;
  readonly #runtime: SpeexRuntime | undefined;
  /** 0 when rates are equal (pass-through) or after free(). */
  #state = 0;
  #freed = false;

  constructor(options: ResamplerOptions) {
    const { inputRate, outputRate, channels = 1, quality = 5 } = options;
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.channels = channels;
    const valid = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;
    const rates = valid(inputRate, 1, 2 ** 31) && valid(outputRate, 1, 2 ** 31);
    if (!rates || !valid(channels, 1, 8) || !valid(quality, 0, 10)) {
      throw new RangeError(`Resampler: invalid options ${JSON.stringify(options)}`);
    }
    if (inputRate === outputRate) return;

    const speex = (this.#runtime = speexRuntime());
    const error = speex.inputFrames;
    this.#state = speex.wasm.e(channels, inputRate, outputRate, quality, error);
    if (this.#state === 0) throw new Error(`Resampler: ${speex.error(speex.heap.getInt32(error))}`);
    orphans.register(this, this.#state, this);
    // Starts output at the first input sample instead of after the filter's half-length of zeros, so audio that
    // goes through a resampler stays time-aligned with audio that does not.
    speex.wasm.z(this.#state);
  }

  /**
   * Converts one chunk of interleaved PCM of any length, continuing the filter state from the previous chunk.
   * Output length follows input length times outputRate / inputRate without drift, less a constant: the filter's
   * half-length (2.5 ms at quality 5) stays inside. So the first chunk comes out short, and a caller that needs
   * exact frame sizes, such as an Opus encoder, has to buffer.
   */
  process(pcm: Int16Array): Int16Array {
    if (this.#freed) throw new Error("Resampler.process after free()");
    if (pcm.length % this.channels !== 0) {
      throw new RangeError(`Resampler.process: ${pcm.length} samples is not whole frames of ${this.channels} channels`);
    }
    const speex = this.#runtime;
    if (!speex) return pcm.slice();

    const { heap, wasm } = speex;
    const { channels } = this;
    const sliceFrames = Math.floor(SCRATCH_SAMPLES / channels);
    const chunks: Int16Array[] = [];
    for (let offset = 0; offset < pcm.length; ) {
      const frames = Math.min(sliceFrames, (pcm.length - offset) / channels);
      heap.writeInt16(speex.input, pcm.subarray(offset, offset + frames * channels));
      heap.setInt32(speex.inputFrames, frames);
      heap.setInt32(speex.outputFrames, sliceFrames);
      const code = wasm.o(this.#state, speex.input, speex.inputFrames, speex.output, speex.outputFrames);
      if (code !== 0) throw new Error(`Resampler.process: ${speex.error(code)}`);
      // Speex reports what it consumed and produced; with upsampling the output scratch may fill before the input
      // slice is used up, and the loop feeds the rest.
      const consumed = heap.getInt32(speex.inputFrames);
      const produced = heap.getInt32(speex.outputFrames);
      if (consumed === 0 && produced === 0) throw new Error("Resampler.process: speex made no progress");
      chunks.push(heap.readInt16(speex.output, produced * channels));
      offset += consumed * channels;
    }
    return chunks.length === 1 ? chunks[0] : concat(chunks);
  }

  /** Returns the filter state to the shared heap. Idempotent; process() afterwards throws. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    if (this.#state === 0) return;
    orphans.unregister(this);
    this.#runtime!.wasm.j(this.#state);
    this.#state = 0;
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

function concat(chunks: Int16Array[]): Int16Array {
  const result = new Int16Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
