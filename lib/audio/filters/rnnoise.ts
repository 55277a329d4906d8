/**
 * RNNoise (Xiph's recurrent-network noise suppressor) over the WASM build shipped by @jitsi/rnnoise-wasm, with our own
 * binding to its exports. As with Opus, the module is instantiated once per process and every denoiser is a state
 * malloc'ed in that one heap (about 19 kB each), so a session costs its state, not a WASM instance.
 *
 * RNNoise takes frames of exactly 480 samples (10 ms at 48 kHz), as floats on the 16-bit scale (-32768..32767, not
 * -1..1), and returns each frame one frame late: its analysis window overlaps the frame before.
 */
import { instantiateBundled } from "../../assets/bundledFiles.ts";
import { type WasmBinding, type WasmExports, wasmFunction, wasmMemory } from "../../assets/wasmInterface.ts";
import { emscriptenHeapImports, WasmHeap } from "../../media/wasmHeap.ts";

/** Samples in one RNNoise frame: 10 ms at 48 kHz. */
export const RNNOISE_FRAME_SAMPLES = 480;
/** The only rate RNNoise is trained for. */
export const RNNOISE_SAMPLE_RATE = 48000;

const rnnoiseImports = emscriptenHeapImports(() => heap!.memory);

/**
 * The rnnoise build as this binding uses it. Its exports are minified; the names follow its emscripten glue
 * (`_rnnoise_create` = "f", ...). Binding them is safe only because the module is checked against this declaration
 * (and, unless replaced, its pinned hash) before anything is called: see lib/assets/bundledFiles.ts.
 */
export const RNNOISE_WASM = {
  file: "rnnoise.wasm",
  exports: {
    c: wasmMemory,
    /** __wasm_call_ctors */
    d: wasmFunction<() => void>(),
    /** rnnoise_create(model) -> state; model 0 is the built-in one */
    f: wasmFunction<(model: number) => number>(),
    /** malloc */
    g: wasmFunction<(bytes: number) => number>(),
    /** rnnoise_destroy(state) */
    h: wasmFunction<(state: number) => void>(),
    /** free */
    i: wasmFunction<(pointer: number) => void>(),
    /** rnnoise_process_frame(state, out, in) -> probability of voice in the frame */
    j: wasmFunction<(state: number, output: number, input: number) => number>(),
  },
  // emscripten's heap growth for malloc ("a") and its memcpy for large copies ("b").
  imports: { a: { a: rnnoiseImports.resizeHeap, b: rnnoiseImports.memcpyBig } },
} satisfies WasmBinding;

type RNNoiseExports = WasmExports<typeof RNNOISE_WASM.exports>;

/** The shared instance, and one input and one output frame of floats: calls are synchronous, so states share them. */
class RNNoiseRuntime {
  readonly input: number;
  readonly output: number;

  constructor(
    readonly wasm: RNNoiseExports,
    readonly heap: WasmHeap,
  ) {
    this.input = heap.malloc(RNNOISE_FRAME_SAMPLES * Float32Array.BYTES_PER_ELEMENT);
    this.output = heap.malloc(RNNOISE_FRAME_SAMPLES * Float32Array.BYTES_PER_ELEMENT);
  }
}

let runtime: RNNoiseRuntime | undefined;
/** The shared instance's heap, which the imports above grow and copy within. */
let heap: WasmHeap | undefined;

function rnnoiseRuntime(): RNNoiseRuntime {
  if (runtime) return runtime;
  const wasm = instantiateBundled(RNNOISE_WASM);
  heap = new WasmHeap(wasm.c, { malloc: wasm.g, free: wasm.i });
  wasm.d();
  return (runtime = new RNNoiseRuntime(wasm, heap));
}

/** Loads the module, once per process: a file that cannot serve fails here, when a filter starts, not at a frame. */
export function loadRNNoise(): void {
  rnnoiseRuntime();
}

/** Size of the shared RNNoise heap: it grows with the number of live denoisers and never shrinks. For leak tests. */
export function rnnoiseHeapBytes(): number {
  return rnnoiseRuntime().heap.byteLength;
}

// Destroys states whose owner was garbage-collected without destroy(): a leaked session must not leak heap forever.
const orphans = new FinalizationRegistry<number>((state) => runtime?.wasm.h(state));

/** One RNNoise state: a stream of 10 ms frames at 48 kHz, denoised one frame late. */
export class RNNoiseDenoiser {
  readonly #runtime = rnnoiseRuntime();
  #state: number;

  constructor() {
    this.#state = this.#runtime.wasm.f(0);
    if (this.#state === 0) throw new RangeError("RNNoise: the WASM heap is exhausted");
    orphans.register(this, this.#state, this);
  }

  /**
   * Denoises one frame of 480 samples into `output` (the same length), which receives the frame before `input`.
   * Returns RNNoise's probability (0-1) that the frame holds voice.
   */
  process(input: Int16Array, output: Int16Array): number {
    if (this.#state === 0) throw new Error("RNNoiseDenoiser.process after destroy()");
    if (input.length !== RNNOISE_FRAME_SAMPLES || output.length !== RNNOISE_FRAME_SAMPLES) {
      throw new RangeError(
        `RNNoiseDenoiser.process: a frame is ${RNNOISE_FRAME_SAMPLES} samples (10 ms at 48 kHz), ` +
          `got ${input.length} in and ${output.length} out`,
      );
    }
    const { heap, wasm } = this.#runtime;
    // Int16 samples go in as floats of the same value: RNNoise works on the 16-bit scale.
    heap.f32.set(input, this.#runtime.input >> 2);
    const voice = wasm.j(this.#state, this.#runtime.output, this.#runtime.input);
    const samples = heap.f32;
    const from = this.#runtime.output >> 2;
    for (let i = 0; i < RNNOISE_FRAME_SAMPLES; i++) {
      // A typed-array copy would wrap out-of-range floats around; the filter's overshoot must clip instead.
      output[i] = Math.max(-32768, Math.min(32767, Math.round(samples[from + i])));
    }
    return voice;
  }

  /** Returns the state to the shared heap. Idempotent; process() afterwards throws. */
  destroy(): void {
    if (this.#state === 0) return;
    orphans.unregister(this);
    this.#runtime.wasm.h(this.#state);
    this.#state = 0;
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}
