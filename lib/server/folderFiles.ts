/**
 * `GET /files/*`: the files of the `folder` directory (Pipecat's runner `--folder`), for a bot that writes recordings
 * or transcripts for its client to download. Only what is inside the folder is served: the path is judged segment by
 * segment before it touches the disk, and its real path (symlinks followed) must still be inside the folder.
 */
import { realpathSync, statSync } from "node:fs";
import { readFile, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { Hono } from "hono";
import { ConfigError } from "../config/layers.ts";
import { contentType } from "./assets.ts";
import { HttpError } from "./httpError.ts";

const PREFIX = "/files/";

/** The `/files/*` route for `folder`; a folder that is not a readable directory stops the server at start-up. */
export function folderFiles(folder: string): Hono {
  const root = folderRoot(folder);
  const app = new Hono();
  app.get("/files/*", async (c) => {
    // The raw path, not the router's decoded one, so that an encoded "/" or ".." is seen for what it is.
    const segments = fileSegments(new URL(c.req.url).pathname.slice(PREFIX.length));
    const name = segments.join("/");
    const real = await realpath(join(root, ...segments)).catch(() => undefined);
    if (real !== undefined && !real.startsWith(root + sep)) throw new HttpError(403, `${name} leads outside the folder`);
    if (real === undefined || !(await stat(real)).isFile()) throw new HttpError(404, `no such file: ${name}`);
    const body = await readFile(real);
    return c.body(new Uint8Array(body), 200, { "Content-Type": contentType(real), "Cache-Control": "no-cache" });
  });
  return app;
}

function folderRoot(folder: string): string {
  try {
    const root = realpathSync(folder);
    if (statSync(root).isDirectory()) return root;
  } catch {
    // reported below, as one line
  }
  throw new ConfigError(`folder: ${folder} is not a readable directory`);
}

/** The decoded path segments; anything that could leave the folder (or name it) is a 400. */
function fileSegments(rawPath: string): string[] {
  const segments = rawPath.split("/").map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new HttpError(400, "file path: malformed percent-encoding");
    }
  });
  const unsafe = segments.some((s) => s === "" || s === "." || s === ".." || /[/\\\0]/.test(s));
  if (unsafe) throw new HttpError(400, "file path: must be a relative path inside the folder, without '.' or '..'");
  return segments;
}
