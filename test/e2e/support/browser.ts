// Headless Debian Chromium set up for real WebRTC on loopback.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { speechWav, videoY4m } from "../../../scripts/support/media.ts";

export interface LaunchOptions {
  /** WAV played by the fake mic (48 kHz mono). Default: the generated speech; `null`: Chromium's beep. */
  audioFile?: string | null;
  /** y4m played by the fake camera. Default: the generated clip; `null`: Chromium's test pattern. */
  videoFile?: string | null;
  /** Play the audio file once instead of looping it. */
  audioOnce?: boolean;
  /** Features to disable on top of Playwright's list and WebRtcHideLocalIpsWithMdns. */
  disableFeatures?: string[];
  /** Addresses besides loopback that the page may reach (the resolver rules below map every other host away). */
  reachableHosts?: string[];
  /** Extra Chromium switches (not --disable-features, which must stay a single switch). */
  args?: string[];
  /**
   * Servers off loopback the pages use, as origins ("http://203.0.113.10:7860"): reachable (every other name fails to
   * resolve), and trusted with the microphone as an https site would be.
   */
  remoteOrigins?: string[];
  /** Defaults to /usr/bin/chromium (Debian), so Playwright never downloads a browser. */
  executablePath?: string;
}

export interface LaunchedBrowser extends AsyncDisposable {
  context: BrowserContext;
  /** Closes the browser and deletes its throwaway profile. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Only 127.0.0.1/localhost and the given hosts resolve; anything else (e.g. daily-js' CDN) fails fast instead of
 * hanging. The rule maps IP literals too, so every address a page reaches must be excluded by name.
 */
function hostResolverRules(hosts: string[]): string {
  const reachable = ["localhost", "127.0.0.1", "[::1]", ...hosts];
  return ["MAP * ~NOTFOUND", ...reachable.map((host) => `EXCLUDE ${host}`)].join(" , ");
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<LaunchedBrowser> {
  const audioFile = options.audioFile === undefined ? await speechWav() : options.audioFile;
  const videoFile = options.videoFile === undefined ? await videoY4m() : options.videoFile;
  const playwrightFeatures = await playwrightDisabledFeatures();
  const disabled = [...playwrightFeatures, "WebRtcHideLocalIpsWithMdns", ...(options.disableFeatures ?? [])];

  const args = [
    "--disable-gpu",
    "--disable-quic",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    // Without it Chromium never gathers 127.0.0.1 candidates, so a lo-only netns gets none at all.
    "--allow-loopback-in-peer-connection",
    `--host-resolver-rules=${hostResolverRules([
      ...(options.reachableHosts ?? []),
      ...(options.remoteOrigins ?? []).map((origin) => new URL(origin).hostname),
    ])}`,
    // Chromium honours only the last --disable-features, so ours carries Playwright's list too.
    `--disable-features=${disabled.join(",")}`,
    ...(audioFile ? [`--use-file-for-fake-audio-capture=${audioFile}${options.audioOnce ? "%noloop" : ""}`] : []),
    ...(videoFile ? [`--use-file-for-fake-video-capture=${videoFile}`] : []),
    ...(options.remoteOrigins?.length
      ? [`--unsafely-treat-insecure-origin-as-secure=${options.remoteOrigins.join(",")}`]
      : []),
    ...(options.args ?? []),
  ];

  // Playwright rejects --user-data-dir in args; a persistent context on a fresh dir is the supported way.
  const profile = await mkdtemp(join(tmpdir(), "smallwebrtc-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: options.executablePath ?? "/usr/bin/chromium",
      headless: true,
      args,
      ignoreDefaultArgs: [`--disable-features=${playwrightFeatures.join(",")}`],
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= context.close().finally(() => rm(profile, { recursive: true, force: true })));
  return { context, close, [Symbol.asyncDispose]: close };
}

/** Live list of console.error() lines and uncaught exceptions of a page, for assertions. */
export function captureConsoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console.error: ${msg.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

let featuresCache: Promise<string[]> | undefined;

/**
 * Playwright's own --disable-features list, read from the installed playwright-core so the merged
 * switch and the ignoreDefaultArgs entry always match it exactly, whatever its version.
 */
function playwrightDisabledFeatures(): Promise<string[]> {
  featuresCache ??= (async () => {
    const bundle = createRequire(import.meta.url).resolve("playwright-core/lib/coreBundle");
    const source = await readFile(bundle, "utf8");
    const list = /disabledFeatures = \[([\s\S]*?)\]\.filter\(Boolean\)/.exec(source)?.[1];
    if (!list) throw new Error(`cannot find Playwright's disabledFeatures in ${bundle}`);
    const withoutComments = list.replace(/\/\/[^\n]*/g, "");
    return [...withoutComments.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  })();
  return featuresCache;
}
