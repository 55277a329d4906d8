/** A server assembled exactly as the runner does it, bound to loopback, for in-process tests. */
import { echoBot } from "../../lib/bots/echo.ts";
import { type Config, ConfigSchema, type ConfigInput } from "../../lib/config/schema.ts";
import { createLogger, type Logger } from "../../lib/log/logger.ts";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { launchBot } from "../../lib/runner/launchBot.ts";
import { SmallWebRTCServer } from "../../lib/server/smallWebRTCServer.ts";
import type { SmallWebRTCConnection } from "../../lib/webrtc/connection.ts";

export function testConfig(overrides: ConfigInput = {}): Config {
  return ConfigSchema.parse({
    host: "127.0.0.1",
    port: 0,
    ...overrides,
    ice: { interfaces: ["127.0.0.1"], ...overrides.ice },
  });
}

export interface TestServer {
  server: SmallWebRTCServer;
  /** Every connection handed to the bot, with its request data. */
  sessions: RunnerArguments[];
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  post(path: string, json: unknown, method?: string): Promise<{ status: number; body: any }>;
  nextConnection(): Promise<SmallWebRTCConnection>;
  close(): Promise<void>;
}

export function startTestServer(
  overrides: ConfigInput = {},
  bot: (args: RunnerArguments) => unknown = echoBot,
  logger: Logger = createLogger({ level: process.env.TEST_LOG_LEVEL as never ?? "error" }),
): TestServer {
  const sessions: RunnerArguments[] = [];
  const waiting: ((connection: SmallWebRTCConnection) => void)[] = [];
  const server = new SmallWebRTCServer({
    config: testConfig(overrides),
    logger,
    onConnection: (connection, body, sessionId) => {
      const args: RunnerArguments = { webrtcConnection: connection, body, sessionId, cliArgs: [] };
      sessions.push(args);
      waiting.shift()?.(connection);
      launchBot(async (a) => void (await bot(a)), args);
    },
  });
  const request = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const body = json === undefined ? rest.body : typeof json === "string" ? json : JSON.stringify(json);
    return Promise.resolve(server.app.request(`http://127.0.0.1${path}`, { ...rest, body }));
  };
  return {
    server,
    sessions,
    request,
    async post(path, json, method = "POST") {
      const response = await request(path, { method, json, headers: { "Content-Type": "application/json" } });
      return { status: response.status, body: await response.json() };
    },
    nextConnection: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => server.shutdown(),
  };
}
