/**
 * The one libav.js (vp8-opus variant: libvpx + libopus) instance of the process, and moving I420 planes in and out of
 * its heap. Every instance owns its own WASM memory (tens of MB), so sessions share this one and only hold codec
 * contexts inside it. It runs in "noworker" mode: calls are synchronous on the caller's thread.
 */
import LibAVWrapper from "@libav.js/variant-vp8-opus";
// The emscripten factory is imported statically (by path, because the package's "exports" hide it) so that
// `bun build --compile` bundles it: libav.js would otherwise import it at run time from a build-machine path.
// @ts-ignore: the factory ships without type declarations (tsc wants this; deno check does not, hence not expect-error)
import libavFactory from "../../node_modules/@libav.js/variant-vp8-opus/dist/libav-6.10.9.0-vp8-opus.wasm.mjs";
import { compileBundledModule } from "../assets/bundledFiles.ts";
import type { WasmBinding } from "../assets/wasmInterface.ts";
import {
  i420ByteLength,
  type I420Image,
  type I420Planes,
  packedPlanes,
  planesToRgb,
  type RawImage,
  type RgbImage,
  rgbToPlanes,
} from "./yuv.ts";

/** In noworker mode the instance is the emscripten module itself, so its heap view is there too (replaced, not
 * resized, when the memory grows: read it after any call that may allocate). */
export type LibAV = LibAVWrapper.LibAV & LibAVWrapper.LibAVSync & { readonly HEAPU8: Uint8Array };

/** ffmpeg's AV_PIX_FMT_YUV420P, the only layout libvpx's VP8 encoder takes and its decoder produces. */
export const AV_PIX_FMT_YUV420P = 0;
/** AVERROR(EAGAIN) in libav.js's errno numbering: "feed more input" / "no output yet". */
export const AVERROR_EAGAIN = -6;

/** libav.js's own glue drives the module, so a replacement must offer everything the pinned build does. */
export const LIBAV_WASM: WasmBinding = { file: "libav-vp8-opus.wasm" };

let instance: Promise<LibAV> | undefined;

/** The shared instance, created on first use. */
export function sharedLibAV(): Promise<LibAV> {
  return (instance ??= createLibAV());
}

function createLibAV(): Promise<LibAV> {
  return new Promise<LibAV>((resolve, reject) => {
    // This emscripten build ignores `wasmBinary` and would read the .wasm next to the factory; `instantiateWasm` is
    // the hook it does honour, so the checked, compiled module is handed over there.
    const factory = (options: object) =>
      libavFactory({
        ...options,
        instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) {
          compileBundledModule(LIBAV_WASM)
            .then((module) => WebAssembly.instantiate(module, imports))
            .then(receive, reject);
          return {};
        },
      });
    LibAVWrapper.LibAV({ noworker: true, factory }).then((libav) => {
      libav.av_log_set_level_sync(libav.AV_LOG_QUIET);
      resolve(libav as LibAV);
    }, reject);
  }).catch((error: unknown) => {
    instance = undefined;
    throw error;
  });
}

/**
 * Fills `frame` (an AVFrame) with the picture, (re)allocating its buffers when the size changed. An RGB picture is
 * converted straight into the frame's planes.
 */
export function writeFrame(libav: LibAV, frame: number, image: RawImage): void {
  const { width, height } = image;
  if (
    libav.AVFrame_width_sync(frame) !== width ||
    libav.AVFrame_height_sync(frame) !== height ||
    libav.AVFrame_data_a_sync(frame, 0) === 0
  ) {
    libav.av_frame_unref_sync(frame);
    libav.AVFrame_format_s_sync(frame, AV_PIX_FMT_YUV420P);
    libav.AVFrame_width_s_sync(frame, width);
    libav.AVFrame_height_s_sync(frame, height);
    check(libav, libav.av_frame_get_buffer_sync(frame, 0), "av_frame_get_buffer");
  } else {
    // The encoder may still hold a reference to the previous picture; this copies only in that case.
    check(libav, libav.av_frame_make_writable_sync(frame), "av_frame_make_writable");
  }
  // Taken after the allocations above: memory growth replaces the heap's buffer.
  const planes = framePlanes(libav, frame);
  if (image.format === "RGB") rgbToPlanes(image, planes);
  else copyPlanes(packedPlanes(image), planes);
}

/**
 * Copies a decoded AVFrame out as a packed I420 image. libav.js's own copy-out rounds chroma sizes down, which breaks
 * odd sizes (browsers scale 640x360 to 480x270 under load), so the planes are read here.
 */
export function readI420Frame(libav: LibAV, frame: number): I420Image {
  const planes = framePlanes(libav, frame);
  const image: I420Image = {
    format: "I420",
    width: planes.width,
    height: planes.height,
    data: new Uint8Array(i420ByteLength(planes.width, planes.height)),
  };
  copyPlanes(planes, packedPlanes(image));
  return image;
}

/** Reads a decoded AVFrame as RGB, converting straight from its planes. */
export function readRgbFrame(libav: LibAV, frame: number): RgbImage {
  return planesToRgb(framePlanes(libav, frame));
}

/** Views of a yuv420p AVFrame's planes in the heap, valid until the next call that may grow the memory. */
function framePlanes(libav: LibAV, frame: number): I420Planes {
  const format = libav.AVFrame_format_sync(frame);
  if (format !== AV_PIX_FMT_YUV420P) throw new Error(`decoder produced pixel format ${format}, expected yuv420p`);
  const width = libav.AVFrame_width_sync(frame);
  const height = libav.AVFrame_height_sync(frame);
  const yStride = libav.AVFrame_linesize_a_sync(frame, 0);
  const uvStride = libav.AVFrame_linesize_a_sync(frame, 1);
  if (libav.AVFrame_linesize_a_sync(frame, 2) !== uvStride) throw new Error("AVFrame chroma planes differ in stride");
  const heap = libav.HEAPU8;
  const chromaRows = (height + 1) >> 1;
  const plane = (index: number, stride: number, rows: number) => {
    const pointer = libav.AVFrame_data_a_sync(frame, index);
    return heap.subarray(pointer, pointer + stride * rows);
  };
  return {
    width,
    height,
    y: plane(0, yStride, height),
    u: plane(1, uvStride, chromaRows),
    v: plane(2, uvStride, chromaRows),
    yStride,
    uvStride,
  };
}

/** Copies row by row between planes of the same size whose strides may differ. */
function copyPlanes(from: I420Planes, to: I420Planes): void {
  const chromaWidth = (from.width + 1) >> 1;
  const chromaRows = (from.height + 1) >> 1;
  copyRows(from.y, from.yStride, to.y, to.yStride, from.width, from.height);
  copyRows(from.u, from.uvStride, to.u, to.uvStride, chromaWidth, chromaRows);
  copyRows(from.v, from.uvStride, to.v, to.uvStride, chromaWidth, chromaRows);
}

function copyRows(from: Uint8Array, fromStride: number, to: Uint8Array, toStride: number, width: number, rows: number) {
  if (fromStride === width && toStride === width) {
    to.set(from.subarray(0, width * rows));
    return;
  }
  for (let row = 0; row < rows; row++) {
    to.set(from.subarray(row * fromStride, row * fromStride + width), row * toStride);
  }
}

/** Turns a negative libav return code into an Error carrying ffmpeg's message. */
export function check(libav: LibAV, result: number, operation: string): number {
  if (result < 0) throw new Error(`${operation} failed: ${libav.ff_error_sync(result)}`);
  return result;
}
