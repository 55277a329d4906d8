/** The bridge's pieces that need no network: its config rules, its upgrade headers and its bounded queues. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AudioBacklog } from "../../lib/bridge/audioBacklog.ts";
import { loggableUrl } from "../../lib/bridge/botSocket.ts";
import { bridgeStats } from "../../lib/bridge/bridgeStats.ts";
import {
  MAX_REQUEST_DATA_BYTES,
  REQUEST_DATA_HEADER,
  RequestDataTooLargeError,
  SESSION_ID_HEADER,
  upgradeHeaders,
} from "../../lib/bridge/upgradeHeaders.ts";
import { parseCommandLine } from "../../lib/config/cli.ts";
import { ConfigError } from "../../lib/config/layers.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { parseBotSpec } from "../../lib/config/botSpec.ts";
import { resolveBot } from "../../lib/runner/resolveBot.ts";

function load(args: string[], env: Record<string, string> = {}) {
  const commandLine = parseCommandLine(args);
  const cwd = mkdtempSync(join(tmpdir(), "swrtc-bridge-"));
  return loadConfig({ env, cwd, flags: commandLine.layer }).config;
}

function loadError(args: string[], env: Record<string, string> = {}): string {
  try {
    load(args, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("bridge config", () => {
  test("--bot ws://... and bridge.url both choose the bridge; unset, the bot is echo", () => {
    expect(load([]).bot).toBe("echo");
    expect(load(["--bot", "ws://127.0.0.1:8765/ws"]).bot).toBe("ws://127.0.0.1:8765/ws");
    const fromKey = load([], { SMALLWEBRTC_BRIDGE_URL: "wss://bots.example.com/ws?x=1" });
    expect(fromKey.bot).toBe("wss://bots.example.com/ws?x=1");
    expect(parseBotSpec(fromKey.bot)).toEqual({ kind: "bridge", url: "wss://bots.example.com/ws?x=1" });
    expect(fromKey.bridge).toMatchObject({ connectTimeoutSecs: 10, audioInSampleRate: 16000, maxQueuedMs: 10_000 });
  });

  test("bot and bridge.url naming different bots is an error naming both; the same URL twice is not", () => {
    const url = "ws://127.0.0.1:8765/ws";
    expect(load(["--bot", url], { SMALLWEBRTC_BRIDGE_URL: url }).bot).toBe(url);
    for (const bot of ["echo", "parrot", "ws://127.0.0.1:9999/other"]) {
      const message = loadError(["--bot", bot], { SMALLWEBRTC_BRIDGE_URL: url });
      expect(message).toBe(
        `invalid config: bot from flag --bot: names ${bot} while bridge.url names ${url}: set only one of them`,
      );
    }
  });

  test("headers come as a JSON object (from env too) and are checked", () => {
    const env = { SMALLWEBRTC_BRIDGE_HEADERS: '{"Authorization": "Bearer abc", "X-Bot": "1"}' };
    expect(load([], env).bridge.headers).toEqual({ Authorization: "Bearer abc", "X-Bot": "1" });
    expect(loadError([], { SMALLWEBRTC_BRIDGE_HEADERS: '{"Bad Name": "x"}' })).toContain(
      "bridge.headers.Bad Name from env SMALLWEBRTC_BRIDGE_HEADERS: is not an HTTP header name",
    );
    expect(loadError([], { SMALLWEBRTC_BRIDGE_HEADERS: '{"X": "line\\nbreak"}' })).toContain("must be printable ASCII");
    expect(loadError([], { SMALLWEBRTC_BRIDGE_URL: "http://bot/ws" })).toContain("must be a ws:// or wss:// URL");
    expect(loadError([], { SMALLWEBRTC_BRIDGE_MAX_QUEUED_MS: "50" })).toContain("bridge.maxQueuedMs");
  });

  test("a bot URL that cannot be parsed stops the start with one line", async () => {
    const config = load([]);
    const spec = { kind: "bridge", url: "ws://[::1" } as const;
    await expect(resolveBot(spec, config, {})).rejects.toThrow(ConfigError);
    await expect(resolveBot(spec, config, {})).rejects.toThrow("is not a valid WebSocket URL");
  });

  test("log lines name the bot without its credentials or query", () => {
    const url = "wss://user:pw@bots.example.com:8443/ws/x?token=secret#f";
    expect(loggableUrl(url)).toBe("wss://bots.example.com:8443/ws/x");
  });
});

describe("upgrade headers", () => {
  test("the configured headers, then the session id and the request data as ASCII JSON", () => {
    const headers = upgradeHeaders({ Authorization: "Bearer a" }, "pc-1", { name: "Zoë", emoji: "🙂", n: [1] });
    expect(headers).toEqual({
      Authorization: "Bearer a",
      [SESSION_ID_HEADER]: "pc-1",
      [REQUEST_DATA_HEADER]: '{"name":"Zo\\u00eb","emoji":"\\ud83d\\ude42","n":[1]}',
    });
    expect(JSON.parse(headers[REQUEST_DATA_HEADER])).toEqual({ name: "Zoë", emoji: "🙂", n: [1] });
    expect(headers[REQUEST_DATA_HEADER]).toMatch(/^[\x20-\x7e]+$/);
  });

  test("no request data, no header; ours win over a configured header of the same name", () => {
    const headers = upgradeHeaders({ "x-smallwebrtc-session-id": "forged", "X-Other": "kept" }, "pc-2", undefined);
    expect(headers).toEqual({ "X-Other": "kept", [SESSION_ID_HEADER]: "pc-2" });
  });

  test("request data too large for a header line is refused with its size", () => {
    const body = { text: "x".repeat(MAX_REQUEST_DATA_BYTES) };
    expect(() => upgradeHeaders({}, "pc-3", body)).toThrow(RequestDataTooLargeError);
    expect(() => upgradeHeaders({}, "pc-3", body)).toThrow(`${MAX_REQUEST_DATA_BYTES + 11} bytes`);
  });
});

describe("audio backlog", () => {
  test("beyond maxMs the oldest audio goes, counted; messages stay; the gauge follows", () => {
    const dropped = bridgeStats.droppedSeconds("toBot");
    const queued = bridgeStats.queuedSeconds("toBot");
    const backlog = new AudioBacklog<string>("toBot", 100);
    backlog.push("a1", 40);
    backlog.push("m1", 0);
    backlog.push("a2", 40);
    backlog.push("a3", 40);
    expect(backlog.audioMs).toBe(80);
    expect(bridgeStats.droppedSeconds("toBot")).toBeCloseTo(dropped + 0.04);
    expect(bridgeStats.queuedSeconds("toBot")).toBeCloseTo(queued + 0.08);
    expect([backlog.shift(), backlog.shift(), backlog.shift(), backlog.shift()]).toEqual(["m1", "a2", "a3", undefined]);
    expect(bridgeStats.queuedSeconds("toBot")).toBeCloseTo(queued);
  });

  test("messages are bounded by count; clear() empties it without counting drops", () => {
    const backlog = new AudioBacklog<number>("toClient", 1000);
    for (let i = 0; i < 105; i++) backlog.push(i, 0);
    expect(backlog.droppedMessages).toBe(5);
    expect(backlog.shift()).toBe(5);
    const dropped = bridgeStats.droppedSeconds("toClient");
    backlog.push(-1, 500);
    backlog.clear();
    expect(backlog.isEmpty).toBe(true);
    expect(backlog.audioMs).toBe(0);
    expect(bridgeStats.droppedSeconds("toClient")).toBe(dropped);
  });
});
