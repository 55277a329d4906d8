/**
 * The Silero VAD v5 model on onnxruntime-web's WASM backend, loaded once per process. The model keeps no state of
 * its own (the recurrent state is an input and an output), so every session's analyzer shares this one inference
 * session and only carries its own 2x1x128 state: one copy of the weights, however many people are talking.
 */
import * as ort from "onnxruntime-web/wasm";
import { bundledFile, BundledFileError, bundledFilePath } from "../../assets/bundledFiles.ts";

export const SILERO_STATE_SIZE = 2 * 1 * 128;

const MODEL = "silero_vad_v5.onnx";
const MODEL_INPUTS = ["input", "state", "sr"];
const MODEL_OUTPUTS = ["output", "stateN"];

export interface SileroModel {
  /**
   * Voice probability of one window (`context` + new samples, float in [-1, 1]) at 8 or 16 kHz, and the next
   * recurrent state. Calls are serialised internally, so concurrent callers are safe.
   */
  run(input: Float32Array, state: Float32Array, sampleRate: 8000 | 16000): Promise<{ probability: number; state: Float32Array }>;
}

/** The model loaded from `path`: a different file (a replacement in `assetsDir`) is loaded, and checked, anew. */
let loading: { path: string; model: Promise<SileroModel> } | undefined;

export function loadSileroModel(): Promise<SileroModel> {
  const path = bundledFilePath(MODEL);
  if (loading?.path === path) return loading.model;
  const entry = {
    path,
    // A failed load is not kept: the error (e.g. a bad replacement model) is reported again to the next caller.
    model: create().catch((error: unknown) => {
      if (loading === entry) loading = undefined;
      throw error;
    }),
  };
  loading = entry;
  return entry.model;
}

async function create(): Promise<SileroModel> {
  // One thread: worker threads would need SharedArrayBuffer and a worker script on disk. The WASM bytes are handed
  // over directly because a compiled binary cannot fetch them from a build-machine path.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmBinary = bundledFile("ort-wasm-simd-threaded.wasm");
  const session = await ort.InferenceSession.create(bundledFile(MODEL)).catch((error: unknown) => {
    const cause = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
    throw new BundledFileError(bundledFilePath(MODEL), `onnxruntime cannot load the model (${cause})`);
  });
  checkModelInterface(session);
  const rates = { 8000: tensorOfRate(8000), 16000: tensorOfRate(16000) };
  let queue: Promise<unknown> = Promise.resolve();

  return {
    run(input, state, sampleRate) {
      const result = queue.then(async () => {
        const outputs = await session.run({
          input: new ort.Tensor("float32", input, [1, input.length]),
          state: new ort.Tensor("float32", state, [2, 1, 128]),
          sr: rates[sampleRate],
        });
        return {
          probability: (outputs.output.data as Float32Array)[0],
          state: outputs.stateN.data as Float32Array,
        };
      });
      queue = result.catch(() => {});
      return result;
    },
  };
}

/**
 * A replaced model (`assetsDir`) cannot be judged before onnxruntime has parsed it; then it must show the inputs and
 * outputs of the pinned one before a window is fed to it.
 */
function checkModelInterface(session: ort.InferenceSession): void {
  const missing = [
    ...MODEL_INPUTS.filter((name) => !session.inputNames.includes(name)).map((name) => `input ${name}`),
    ...MODEL_OUTPUTS.filter((name) => !session.outputNames.includes(name)).map((name) => `output ${name}`),
  ];
  if (missing.length > 0) {
    throw new BundledFileError(bundledFilePath(MODEL), `not a Silero VAD v5 model: lacks ${missing.join(", ")}`);
  }
}

function tensorOfRate(rate: number): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from([BigInt(rate)]), []);
}
