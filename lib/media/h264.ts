/**
 * H.264 decoding for clients that offer only H.264, through tinyh264 (h264bsd compiled to WASM, Apache-2.0).
 * It decodes Constrained Baseline and Baseline, the profile browsers fall back to (profile-level-id 42e01f); High
 * profile streams produce no pictures, so never negotiate them. There is no encoder: with H.264 only, the bot's
 * video is not sent.
 *
 * We drive h264bsd's C exports directly rather than through tinyh264's TinyH264Decoder class, which never frees its
 * 1 MB input buffer and writes input of any size into it unchecked.
 */
// @ts-ignore: tinyh264 ships without type declarations (tsc wants this; deno check does not, hence not expect-error)
import createTinyH264 from "tinyh264/es/TinyH264.js";
import { BundledFileError } from "../assets/bundledFiles.ts";
import { parseSpsPictureSize, type SpsPictureSize } from "./h264Sps.ts";
import { i420ByteLength, type I420Image } from "./yuv.ts";

interface TinyH264Module {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  _h264bsdAlloc(): number;
  _h264bsdFree(storage: number): void;
  _h264bsdInit(storage: number, noOutputReordering: number): number;
  _h264bsdShutdown(storage: number): void;
  _h264bsdDecode(
    storage: number,
    input: number,
    length: number,
    picturePointer: number,
    widthPointer: number,
    heightPointer: number,
  ): number;
}

/**
 * The functions this binding calls, checked when the module loads: tinyh264 inlines its WASM in the glue, so there is
 * no file to hash, and the package pin is all that fixes the build. A build that lacks one fails there, not at the
 * first decode. The Record type makes this list name every function of the interface above.
 */
const CALLED: Record<Exclude<keyof TinyH264Module, "HEAPU8" | "HEAPU32">, true> = {
  _malloc: true,
  _free: true,
  _h264bsdAlloc: true,
  _h264bsdFree: true,
  _h264bsdInit: true,
  _h264bsdShutdown: true,
  _h264bsdDecode: true,
};

// h264bsdDecode results (h264bsd_decoder.h).
const PIC_RDY = 1;
const ERROR = 3;
const PARAM_SET_ERROR = 4;
const MEMALLOC_ERROR = 5;

const NAL_SLICE = 1;
const NAL_IDR = 5;
const NAL_SPS = 7;

/** End of the NAL unit starting at `start`: the next 00 00 0x with x < 3 (inside a NAL unit 00 00 is always followed
 * by an emulation-prevention 03, H.264 §7.4.1), or the end of the data. */
function nalEnd(data: Uint8Array, start: number): number {
  for (let i = start; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] < 3) return i;
  }
  return data.length;
}

let shared: Promise<TinyH264Module> | undefined;

/** One module for the process (16 MB of WASM memory to start with); every decoder is a state inside it. */
function tinyH264(): Promise<TinyH264Module> {
  return (shared ??= loadTinyH264().then(checkTinyH264).catch((error: unknown) => {
    shared = undefined;
    throw error;
  }));
}

function loadTinyH264(): Promise<TinyH264Module> {
  // The glue is built for web workers only: it reads `self.location.href` once, synchronously, to find its wasm
  // (which is inlined as a data: URL, so nothing is fetched from disk or network). Lend it a blank location.
  const g = globalThis as { location?: unknown };
  if (g.location !== undefined) return createTinyH264();
  const previous = Object.getOwnPropertyDescriptor(globalThis, "location");
  Object.defineProperty(globalThis, "location", { value: { href: "" }, configurable: true, writable: true });
  try {
    return createTinyH264();
  } finally {
    if (previous) Object.defineProperty(globalThis, "location", previous);
    else delete g.location;
  }
}

function checkTinyH264(module: TinyH264Module): TinyH264Module {
  const record = module as unknown as Record<string, unknown>;
  const missing = Object.keys(CALLED).filter((name) => typeof record[name] !== "function");
  if (missing.length > 0) throw new BundledFileError("tinyh264/es/TinyH264.js", `module lacks ${missing.join(", ")}`);
  return module;
}

interface DecoderState {
  storage: number;
  /** Three 32-bit out-parameters: picture pointer, width, height. */
  results: number;
  input: number;
  inputCapacity: number;
}

const orphans = new FinalizationRegistry<{ module: TinyH264Module; state: DecoderState }>(({ module, state }) =>
  release(module, state),
);

function release(module: TinyH264Module, state: DecoderState): void {
  module._h264bsdShutdown(state.storage);
  module._h264bsdFree(state.storage);
  module._free(state.results);
  module._free(state.input);
}

export class H264Decoder {
  readonly #module: TinyH264Module;
  #state: DecoderState | undefined;
  /** Visible size from the latest SPS; applied to pictures of the matching coded size. */
  #crop: SpsPictureSize | undefined;

  private constructor(module: TinyH264Module) {
    this.#module = module;
    const storage = module._h264bsdAlloc();
    if (storage === 0) throw new Error("H.264 decoder allocation failed");
    // No output reordering: Baseline has no B-frames, so every picture can be shown as soon as it is decoded.
    module._h264bsdInit(storage, 1);
    this.#state = { storage, results: module._malloc(12), input: 0, inputCapacity: 0 };
    orphans.register(this, { module, state: this.#state }, this);
  }

  static async create(): Promise<H264Decoder> {
    return new H264Decoder(await tinyH264());
  }

  /**
   * Decodes one Annex B access unit (as H264Depacketiser emits them). Resolves to undefined when it holds no picture
   * (parameter sets only); rejects on corrupt data or an unsupported profile, after which the caller should ask for
   * a keyframe.
   */
  decode(accessUnit: Uint8Array): Promise<I420Image | undefined> {
    return new Promise((resolve) => resolve(this.#decode(accessUnit)));
  }

  #decode(accessUnit: Uint8Array): I420Image | undefined {
    const state = this.#state;
    if (!state) throw new Error("H264Decoder.decode after close()");
    this.#readSps(accessUnit);
    const module = this.#module;
    if (state.inputCapacity < accessUnit.length) {
      module._free(state.input);
      state.inputCapacity = accessUnit.length * 2;
      state.input = module._malloc(state.inputCapacity);
      if (state.input === 0) throw new Error("H.264 decoder: out of memory");
    }
    module.HEAPU8.set(accessUnit, state.input);
    const { results } = state;
    const { storage, input } = state;
    const status = module._h264bsdDecode(storage, input, accessUnit.length, results, results + 4, results + 8);
    if (status === ERROR || status === PARAM_SET_ERROR || status === MEMALLOC_ERROR) {
      throw new Error(`H.264 decode failed (h264bsd status ${status})`);
    }
    if (status !== PIC_RDY) return undefined;
    // Read the views only now: decoding may have grown (and so replaced) the WASM memory.
    const words = module.HEAPU32;
    const picture = words[results >> 2];
    const width = words[(results + 4) >> 2];
    const height = words[(results + 8) >> 2];
    return this.#copyOut(module.HEAPU8, picture, width, height);
  }

  /** Notes the visible size announced by an SPS in the access unit; parameter sets precede its first slice. */
  #readSps(accessUnit: Uint8Array): void {
    for (let i = 0; i + 3 < accessUnit.length; i++) {
      if (accessUnit[i] !== 0 || accessUnit[i + 1] !== 0 || accessUnit[i + 2] !== 1) continue;
      const start = i + 3;
      const type = accessUnit[start] & 0x1f;
      if (type === NAL_SLICE || type === NAL_IDR) return;
      if (type === NAL_SPS) this.#crop = parseSpsPictureSize(accessUnit.subarray(start, nalEnd(accessUnit, start)));
      i += 2;
    }
  }

  /** Copies the (macroblock-sized) picture out of the heap, cropped to the SPS's visible rectangle. */
  #copyOut(heap: Uint8Array, picture: number, codedWidth: number, codedHeight: number): I420Image {
    const crop = this.#crop;
    if (!crop || crop.codedWidth !== codedWidth || crop.codedHeight !== codedHeight) {
      const data = heap.slice(picture, picture + i420ByteLength(codedWidth, codedHeight));
      return { format: "I420", width: codedWidth, height: codedHeight, data };
    }
    const { width, height, left, top } = crop;
    const data = new Uint8Array(i420ByteLength(width, height));
    let offset = 0;
    let planeStart = picture;
    for (let plane = 0; plane < 3; plane++) {
      const shift = plane === 0 ? 0 : 1;
      const stride = codedWidth >> shift;
      const rowBytes = (width + shift) >> shift;
      const rows = (height + shift) >> shift;
      let row = planeStart + (top >> shift) * stride + (left >> shift);
      for (let y = 0; y < rows; y++, row += stride, offset += rowBytes) {
        data.set(heap.subarray(row, row + rowBytes), offset);
      }
      planeStart += stride * (codedHeight >> shift);
    }
    return { format: "I420", width, height, data };
  }

  /** Frees the decoder's state. Idempotent; decoding afterwards rejects. */
  close(): void {
    if (!this.#state) return;
    orphans.unregister(this);
    release(this.#module, this.#state);
    this.#state = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
