/**
 * SileroVADAnalyzer: voice activity from the Silero v5 model (MIT), embedded in the binary and run on
 * onnxruntime-web's WASM backend, about 0.3 ms per 32 ms window on one core. The model takes 16 kHz (or 8 kHz);
 * other pipeline rates are resampled for it.
 */
import { Resampler } from "../../media/resampler.ts";
import { loadSileroModel, SILERO_STATE_SIZE, type SileroModel } from "./sileroModel.ts";
import { type VADParams, WindowedVADAnalyzer } from "./vadAnalyzer.ts";

/** Silero forgets drifting state if it is never reset; Pipecat resets it every 5 s, and so do we. */
const RESET_EVERY_MS = 5000;

export class SileroVADAnalyzer extends WindowedVADAnalyzer {
  readonly #model: SileroModel;
  #state: Float32Array = new Float32Array(SILERO_STATE_SIZE);
  #context = new Float32Array(0);
  #lastReset = performance.now();
  #resampler?: Resampler;

  private constructor(model: SileroModel, params: Partial<VADParams>) {
    super(params);
    this.#model = model;
  }

  /** Loads the model (once per process) and returns an analyzer with its own state. */
  static async create(params: Partial<VADParams> = {}): Promise<SileroVADAnalyzer> {
    return new SileroVADAnalyzer(await loadSileroModel(), params);
  }

  override setSampleRate(sampleRate: number): void {
    this.#resampler?.free();
    this.#resampler = sampleRate === 16000 || sampleRate === 8000
      ? undefined
      : new Resampler({ inputRate: sampleRate, outputRate: 16000, channels: 1 });
    super.setSampleRate(sampleRate);
  }

  /** The model's own rate: 8 kHz stays 8 kHz, anything else is analysed at 16 kHz. */
  get #modelRate(): 8000 | 16000 {
    return this.sampleRate === 8000 ? 8000 : 16000;
  }

  protected windowSize(): number {
    // 512 samples at 16 kHz (256 at 8 kHz) is Silero v5's only window, i.e. 32 ms of input at any rate.
    return Math.round((this.sampleRate * (this.#modelRate === 8000 ? 256 : 512)) / this.#modelRate);
  }

  protected async voiceConfidence(window: Int16Array): Promise<number> {
    const rate = this.#modelRate;
    const samples = this.#resampler ? this.#fit(this.#resampler.process(window), rate === 8000 ? 256 : 512) : window;
    const contextSize = rate === 8000 ? 32 : 64;
    if (this.#context.length !== contextSize) this.#context = new Float32Array(contextSize);
    const input = new Float32Array(contextSize + samples.length);
    input.set(this.#context);
    for (let i = 0; i < samples.length; i++) input[contextSize + i] = samples[i] / 32768;
    this.#context = input.slice(input.length - contextSize);

    if (performance.now() - this.#lastReset > RESET_EVERY_MS) this.resetModel();
    const { probability, state } = await this.#model.run(input, this.#state, rate);
    this.#state = state;
    return probability;
  }

  protected resetModel(): void {
    this.#state = new Float32Array(SILERO_STATE_SIZE);
    this.#lastReset = performance.now();
  }

  /** A resampler's output length wobbles by a sample; the model needs its exact window. */
  #fit(pcm: Int16Array, length: number): Int16Array {
    if (pcm.length === length) return pcm;
    const out = new Int16Array(length);
    out.set(pcm.subarray(0, length));
    return out;
  }
}
