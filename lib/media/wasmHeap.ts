/**
 * Typed access to the linear memory of a C library compiled to WASM. One instance of each codec module serves every
 * session, so all per-session state lives in this one heap, allocated with the module's own malloc/free.
 *
 * Memory growth (inside malloc, or inside a codec call) replaces `memory.buffer` and detaches every view of the old
 * buffer, so the views are checked and re-created on each access rather than cached across calls.
 */
export interface WasmAllocator {
  malloc(bytes: number): number;
  free(pointer: number): void;
}

export class WasmHeap {
  #u8: Uint8Array;
  #i16: Int16Array;
  #i32: Int32Array;
  #f32: Float32Array;

  constructor(
    readonly memory: WebAssembly.Memory,
    private readonly allocator: WasmAllocator,
  ) {
    this.#u8 = new Uint8Array(memory.buffer);
    this.#i16 = new Int16Array(memory.buffer);
    this.#i32 = new Int32Array(memory.buffer);
    this.#f32 = new Float32Array(memory.buffer);
  }

  /** Current size of the linear memory; it only ever grows. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  get u8(): Uint8Array {
    this.#refresh();
    return this.#u8;
  }

  /** The heap as 32-bit floats, for libraries that take float samples; index with `pointer >> 2`. */
  get f32(): Float32Array {
    this.#refresh();
    return this.#f32;
  }

  malloc(bytes: number): number {
    const pointer = this.allocator.malloc(bytes);
    if (pointer === 0) throw new RangeError(`WASM heap exhausted allocating ${bytes} bytes`);
    return pointer;
  }

  free(pointer: number): void {
    this.allocator.free(pointer);
  }

  // Pointers passed to the Int16/Int32 helpers come from malloc, which aligns to 8 bytes, so `>> 1` / `>> 2` are exact.
  writeInt16(pointer: number, samples: Int16Array): void {
    this.#refresh();
    this.#i16.set(samples, pointer >> 1);
  }

  /** Copies out, so the result survives later memory growth and reuse of the scratch buffer. */
  readInt16(pointer: number, count: number): Int16Array {
    this.#refresh();
    return this.#i16.slice(pointer >> 1, (pointer >> 1) + count);
  }

  writeBytes(pointer: number, bytes: Uint8Array): void {
    this.#refresh();
    this.#u8.set(bytes, pointer);
  }

  readBytes(pointer: number, length: number): Uint8Array {
    this.#refresh();
    return this.#u8.slice(pointer, pointer + length);
  }

  getInt32(pointer: number): number {
    this.#refresh();
    return this.#i32[pointer >> 2];
  }

  setInt32(pointer: number, value: number): void {
    this.#refresh();
    this.#i32[pointer >> 2] = value;
  }

  /** Reads a NUL-terminated ASCII string, such as the static messages of `opus_strerror`. */
  cString(pointer: number): string {
    const u8 = this.u8;
    const end = u8.indexOf(0, pointer);
    return new TextDecoder().decode(u8.subarray(pointer, end < 0 ? u8.length : end));
  }

  #refresh(): void {
    const buffer = this.memory.buffer;
    if (this.#u8.buffer === buffer) return;
    this.#u8 = new Uint8Array(buffer);
    this.#i16 = new Int16Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#f32 = new Float32Array(buffer);
  }
}

/**
 * The two runtime functions an emscripten build without I/O imports: growing the heap when malloc runs out, and the
 * memcpy it hands large copies to. `memory` gives the instance's memory, which exists only once it is instantiated.
 * Each binding maps them to the module's minified import names.
 */
export function emscriptenHeapImports(memory: () => WebAssembly.Memory): {
  resizeHeap: (requestedBytes: number) => number;
  memcpyBig: (destination: number, source: number, bytes: number) => void;
} {
  return {
    resizeHeap: (requestedBytes) => {
      const heap = memory();
      try {
        heap.grow(Math.ceil(((requestedBytes >>> 0) - heap.buffer.byteLength) / 65536));
        return 1;
      } catch {
        return 0;
      }
    },
    memcpyBig: (destination, source, bytes) => {
      new Uint8Array(memory().buffer).copyWithin(destination, source, source + bytes);
    },
  };
}
