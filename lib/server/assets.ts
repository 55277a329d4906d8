/**
 * Static files for the test client. In development they come from a directory; in the compiled binary from bytes
 * embedded at build time. Either way the route only ever sees this interface.
 */
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";

export interface AssetSource {
  /** The bytes at `path` (relative, "/"-separated, no leading slash), or undefined when there is no such file. */
  read(path: string): Promise<Uint8Array | undefined>;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
  ".wav": "audio/wav",
};

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

export function directoryAssets(root: string): AssetSource {
  return {
    async read(path) {
      const full = normalize(join(root, path));
      if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
      try {
        return new Uint8Array(await readFile(full));
      } catch {
        return undefined;
      }
    },
  };
}

export function memoryAssets(files: Record<string, Uint8Array>): AssetSource {
  return { read: (path) => Promise.resolve(files[path]) };
}
