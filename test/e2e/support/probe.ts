// Test-side half of the probe: bundles the probe page, serves it to Chromium, and drives it.
//
// Same-origin (default): the page is fulfilled by page.route() at the server's own origin, so the
// client's fetches need no CORS and nothing but the client's own requests reaches the server.
// Cross-origin: a real static server on another loopback port and no routes at all, because while
// any route is active Playwright answers CORS preflights itself and would hide the server's.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { cacheDir, repoRoot } from "../../../scripts/support/paths.ts";
import { eventually } from "../../support/eventually.ts";
import type { ProbeControl, ProbeOptions, ProbeResult } from "./probeTypes.ts";

export type { ProbeControl, ProbeOptions, ProbeResult } from "./probeTypes.ts";

const PROBE_PATH = "/__probe/";
const ENTRY = join(repoRoot, "test/e2e/pages/probe-page.ts");
// Everything the bundle is made of; any change here means a rebuild.
const SOURCES = ["test/e2e/pages", "test/e2e/support/probeTypes.ts", "test/support/eventually.ts", "public/src",
  "package-lock.json"];

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>smallwebrtc probe</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="probe-page.js"></script></body></html>
`;

export interface ProbeAssets {
  "index.html": string;
  "probe-page.js": string;
}

export interface OpenProbeOptions {
  /** Origin of the server under test. */
  baseUrl: string;
  /** Serve the page from its own loopback origin instead of the server's (CORS tests). */
  crossOrigin?: boolean;
}

export interface ProbePage extends AsyncDisposable {
  page: Page;
  /** Where the page was loaded from. */
  url: string;
  /** Closes the page and, in cross-origin mode, its static server. */
  close(): Promise<void>;
}

let assets: Promise<ProbeAssets> | undefined;

/** The bundled page, built with Bun.build into .cache/probe/<hash of its sources>/ once. */
export function probeAssets(): Promise<ProbeAssets> {
  assets ??= (async () => {
    const dir = await cacheDir(join("probe", await sourceHash()));
    const js = join(dir, "probe-page.js");
    if (!existsSync(js)) {
      const build = await Bun.build({ entrypoints: [ENTRY], target: "browser", format: "esm", sourcemap: "inline" });
      if (!build.success) throw new AggregateError(build.logs, "probe page bundle failed");
      const [output] = build.outputs;
      if (!output) throw new Error("probe page bundle produced no output");
      const tmp = `${js}.${process.pid}.tmp`;
      await writeFile(tmp, await output.text());
      await rename(tmp, js);
    }
    return { "index.html": INDEX_HTML, "probe-page.js": await readFile(js, "utf8") };
  })();
  return assets;
}

/** Opens a new page with the probe loaded and `window.startProbe` ready. */
export async function openProbePage(context: BrowserContext, options: OpenProbeOptions): Promise<ProbePage> {
  const files = await probeAssets();
  const page = await context.newPage();
  let stopServer = () => {};
  let url: string;
  if (options.crossOrigin) {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => {
      const { status, contentType, body } = asset(files, request.url);
      return new Response(body, { status, headers: { "content-type": contentType } });
    } });
    stopServer = () => void server.stop(true);
    url = `http://127.0.0.1:${server.port}${PROBE_PATH}index.html`;
  } else {
    const origin = new URL(options.baseUrl).origin;
    await page.route(`${origin}${PROBE_PATH}**`, (route) => route.fulfill(asset(files, route.request().url())));
    url = `${origin}${PROBE_PATH}index.html`;
  }
  const close = async () => {
    await page.close();
    stopServer();
  };
  try {
    await page.goto(url);
    await page.waitForFunction(() => typeof window.startProbe === "function", undefined, { timeout: 10_000 });
  } catch (error) {
    await close();
    throw error;
  }
  return { page, url, close, [Symbol.asyncDispose]: close };
}

/** What a call waits for before it ends: a condition on the call so far. */
export interface CallUntil {
  /** Names the condition in the error at the deadline. */
  what: string;
  holds(call: ProbeResult): boolean;
  /** Default 15 s. */
  timeoutMs?: number;
}

/**
 * The whole call in one go: connects, stays until `until` holds for the call so far (checked on fresh snapshots), then
 * finishes. Without `until` it finishes right after bot-ready.
 */
export async function runProbe(page: Page, options: ProbeOptions, until?: CallUntil): Promise<ProbeResult> {
  const started = await startProbe(page, options);
  if (started.botReady && until) {
    const holds = async () => until.holds(await controlProbe(page, "snapshot"));
    await eventually(holds, until.timeoutMs ?? 15_000, until.what, { pollMs: 100 });
  }
  return finishProbe(page);
}

/** Connects and returns once bot-ready arrived (or connecting failed or timed out). */
export function startProbe(page: Page, options: ProbeOptions, timeoutMs = defaultTimeout(options)): Promise<ProbeResult> {
  return withTimeout(evaluate(page, (o) => window.startProbe(o as ProbeOptions), options), timeoutMs, "startProbe");
}

/** Collects final stats and, unless disconnectAtEnd is false, disconnects. */
export function finishProbe(page: Page, timeoutMs = 15_000): Promise<ProbeResult> {
  return withTimeout(evaluate(page, () => window.finishProbe(), null), timeoutMs, "finishProbe");
}

/** Calls one of window.probeControl's methods mid-call, e.g. `controlProbe(page, "reconnect", true)`. */
export function controlProbe<K extends keyof ProbeControl>(page: Page, method: K,
  ...args: Parameters<ProbeControl[K]>): Promise<Awaited<ReturnType<ProbeControl[K]>>> {
  const call = evaluate(page, (arg) => {
    const [name, list] = arg as [keyof ProbeControl, unknown[]];
    return (window.probeControl[name] as (...a: unknown[]) => unknown)(...list);
  }, [method, args]);
  return withTimeout(call as Promise<Awaited<ReturnType<ProbeControl[K]>>>, 15_000, `probeControl.${method}`);
}

/** page.evaluate with the argument typed `unknown`: Playwright's handle-unboxing types recurse
 * forever on our recursive Json type. */
function evaluate<R>(page: Page, fn: (arg: unknown) => R | Promise<R>, arg: unknown): Promise<R> {
  return page.evaluate(fn, arg);
}

function asset(files: ProbeAssets, url: string): { status: number; contentType: string; body: string } {
  const name = new URL(url).pathname.slice(PROBE_PATH.length);
  if (name === "index.html") return { status: 200, contentType: "text/html", body: files[name] };
  if (name === "probe-page.js") return { status: 200, contentType: "text/javascript", body: files[name] };
  return { status: 404, contentType: "text/plain", body: "not found" };
}

function defaultTimeout(options: ProbeOptions): number {
  return (options.connectTimeoutMs ?? 15_000) + 15_000;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function sourceHash(): Promise<string> {
  const hash = createHash("sha256");
  for (const source of SOURCES) {
    for (const file of await filesUnder(join(repoRoot, source))) hash.update(file).update(await readFile(file));
  }
  return hash.digest("hex").slice(0, 16);
}

async function filesUnder(path: string): Promise<string[]> {
  if (!existsSync(path)) return [];
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}
