/**
 * The official Pipecat web client (@pipecat-ai/client-js + small-webrtc-transport) in headless Chromium against
 * `scripts/start` (Bun), everything on 127.0.0.1 inside the test network namespace. deno.test.ts and binary.test.ts run
 * the echo check against the other ways of running the server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { speechWav, videoY4m } from "../../scripts/support/media.ts";
import {
  type CallUntil,
  controlProbe,
  finishProbe,
  openProbePage,
  type ProbeOptions,
  type ProbeResult,
  runProbe,
  startProbe,
} from "./support/probe.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { expectSpeechEchoed, explainProbe } from "./support/servingChecks.ts";
import { eventually } from "../support/eventually.ts";

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess();
  browser = await launchBrowser({ audioFile: await speechWav(), videoFile: await videoY4m() });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function probe(options: Omit<ProbeOptions, "baseUrl">, until?: CallUntil, crossOrigin = false) {
  const page = await openProbePage(browser.context, { baseUrl: server.url, crossOrigin });
  try {
    return await runProbe(page.page, { baseUrl: server.url, connectTimeoutMs: 10_000, ...options }, until);
  } finally {
    await page.close();
  }
}

/** Trickle ICE is done once a candidate was PATCHed and every request has its answer. */
const trickled: CallUntil = {
  what: "the trickled candidates to be answered",
  holds: ({ requests }: ProbeResult) =>
    requests.some((r) => r.method === "PATCH") && requests.every((r) => r.status !== null),
};

describe("official Pipecat client", () => {
  test("direct /api/offer flow with trickle ICE reaches bot-ready", async () => {
    const result = await probe({ mode: "offer", waitForICEGathering: false }, trickled);
    expect(result.errors).toEqual([]);
    expect(result.botReady, explainProbe(result)).toBe(true);
    expect(result.stats?.selectedPair).toContain("127.0.0.1");
    const methods = result.requests.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.status}`);
    expect(methods[0]).toBe("POST /api/offer 200");
    expect(methods).toContain("PATCH /api/offer 200");
  }, 60_000);

  test("speech from the fake microphone comes back from the echo bot with energy", async () => {
    await expectSpeechEchoed(browser.context, server.url);
  }, 60_000);

  test("direct flow without trickle (waitForICEGathering) reaches bot-ready", async () => {
    const result = await probe({ mode: "offer", waitForICEGathering: true });
    expect(result.botReady, explainProbe(result)).toBe(true);
  }, 60_000);

  test("/start -> /sessions/:id/api/offer flow reaches bot-ready", async () => {
    const result = await probe({ mode: "start", requestData: { from: "test" } });
    expect(result.botReady, explainProbe(result)).toBe(true);
    const paths = result.requests.map((r) => new URL(r.url).pathname);
    expect(paths[0]).toBe("/start");
    expect(paths[1]).toMatch(/^\/sessions\/[0-9a-f-]{36}\/api\/offer$/);
  }, 60_000);

  test("a client that disconnects is freed on the server", async () => {
    const result = await probe({ mode: "offer" });
    expect(result.botReady, explainProbe(result)).toBe(true);
    const sessions = async () => (await (await fetch(`${server.url}/status`)).json()).sessions;
    await eventually(async () => (await sessions()) === 0, 5000, "the session to be freed");
  }, 60_000);

  test("UI events and snapshots reach the echo bot as client messages; DTMF gets an error-response", async () => {
    await using page = await openProbePage(browser.context, { baseUrl: server.url });
    const started = await startProbe(page.page, { baseUrl: server.url, mode: "offer", connectTimeoutMs: 10_000 });
    expect(started.botReady, explainProbe(started)).toBe(true);
    const payload = { to: "/cart", items: [{ sku: "a-1", qty: 2 }] };
    await controlProbe(page.page, "sendUIEvent", "nav-click", payload);
    await controlProbe(page.page, "startUISnapshotStream");
    await controlProbe(page.page, "sendDTMF", "4#");

    type Sent = { type?: string; id?: string; data?: { tree?: unknown; event?: string } };
    const answer = (result: ProbeResult, type: string) => {
      const request = result.dataChannel.sent.map((m) => m.data as Sent).find((m) => m.type === type);
      const reply = result.dataChannel.received.find((m) => (m.data as Sent).id === request?.id);
      return request && reply ? { request, reply: reply.data } : undefined;
    };
    let result = started;
    const answered = async () => {
      result = await controlProbe(page.page, "snapshot");
      return ["ui-event", "ui-snapshot", "dtmf"].every((type) => answer(result, type));
    };
    await eventually(answered, 10_000, "answers to the ui-event, the first ui-snapshot and the dtmf");
    expect(answer(result, "ui-event")?.reply)
      .toMatchObject({ type: "server-response", data: { t: "nav-click", d: payload } });
    const snapshot = answer(result, "ui-snapshot");
    expect(snapshot?.request.data?.tree).toMatchObject({ root: { role: "generic" }, captured_at: expect.any(Number) });
    expect(snapshot?.reply)
      .toMatchObject({ type: "server-response", data: { t: "ui-snapshot", d: snapshot?.request.data } });
    expect(answer(result, "dtmf")?.reply)
      .toMatchObject({ type: "error-response", data: { error: "Unsupported type dtmf" } });
    await finishProbe(page.page);
  }, 60_000);

  test("cross-origin page from another loopback origin passes CORS", async () => {
    const result = await probe({ mode: "offer" }, undefined, true);
    expect(result.botReady, explainProbe(result)).toBe(true);
  }, 60_000);
});

describe("official Pipecat client with access tokens", () => {
  const token = "0123456789abcdef0123";
  let secured: ServerProcess;
  beforeAll(async () => {
    secured = await startServerProcess({ command: ["env", `SMALLWEBRTC_AUTH_TOKEN=${token}`, ...SOURCE_COMMANDS.bun] });
  }, 60_000);
  afterAll(() => secured?.stop());

  test("the token in the request headers reaches every request of both flows; without it, 401", async () => {
    for (const mode of ["offer", "start"] as const) {
      const page = await openProbePage(browser.context, { baseUrl: secured.url });
      try {
        const base = { baseUrl: secured.url, mode, connectTimeoutMs: 8000 };
        const allowed = await runProbe(page.page, { ...base, headers: { Authorization: `Bearer ${token}` } }, trickled);
        expect(allowed.botReady, explainProbe(allowed)).toBe(true);
        expect(allowed.requests.every((r) => r.status === 200)).toBe(true);
      } finally {
        await page.close();
      }
    }
    const refused = await fetch(`${secured.url}/start`, { method: "POST" });
    expect(refused.status).toBe(401);
  }, 60_000);
});
