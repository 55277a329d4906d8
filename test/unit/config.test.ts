import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine } from "../../lib/config/cli.ts";
import { ConfigError } from "../../lib/config/layers.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { exampleConfig } from "../../lib/config/exampleConfig.ts";
import { stripJsonComments } from "../../lib/config/jsonc.ts";
import { configJsonSchema, ConfigSchema, defaultConfig } from "../../lib/config/schema.ts";
import { mintTurnCredentials, resolveIceServers } from "../../lib/config/turnCredentials.ts";

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "swrtc-config-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function load(args: string[] = [], env: Record<string, string> = {}, cwd = dirWith({})) {
  const commandLine = parseCommandLine(args);
  return loadConfig({ env, cwd, configPath: commandLine.configPath, flags: commandLine.layer }).config;
}

function loadError(args: string[] = [], env: Record<string, string> = {}, cwd = dirWith({})): string {
  try {
    load(args, env, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("config sources", () => {
  test("defaults", () => {
    const config = load();
    expect(config).toEqual(defaultConfig());
    expect(config).toMatchObject({ host: "localhost", port: 7860, iceServers: [], esp32: false, logLevel: "info" });
    expect(config.limits.maxBodyBytes).toBe(65536);
    expect(config.limits.connectTimeoutSecs).toBe(60);
    expect(config.limits.queuedMessages).toBe(50);
  });

  test("file < env < flags, with ./smallwebrtc.json read by default", () => {
    const cwd = dirWith({ "smallwebrtc.json": JSON.stringify({ port: 1000, host: "0.0.0.0", limits: { maxSessions: 5 } }) });
    expect(load([], {}, cwd)).toMatchObject({ port: 1000, host: "0.0.0.0", limits: { maxSessions: 5 } });
    const env = { SMALLWEBRTC_PORT: "2000", SMALLWEBRTC_LIMITS_MAX_BODY_BYTES: "4096" };
    expect(load([], env, cwd)).toMatchObject({ port: 2000, host: "0.0.0.0", limits: { maxSessions: 5, maxBodyBytes: 4096 } });
    expect(load(["--port", "3000"], env, cwd).port).toBe(3000);
  });

  test("--config names the file; comments are allowed in it", () => {
    const cwd = dirWith({ "custom.json": '{\n  // the port\n  "port": 4242, /* and the bot host */ "host": "127.0.0.1"\n}' });
    expect(load(["--config", "custom.json"], {}, cwd)).toMatchObject({ port: 4242, host: "127.0.0.1" });
    expect(load([], { SMALLWEBRTC_CONFIG: "custom.json" }, cwd).port).toBe(4242);
  });

  test("booleans, enums and nested keys from env", () => {
    const config = load([], { SMALLWEBRTC_ICE_LOOPBACK: "always", SMALLWEBRTC_ICE_IPV6: "yes", SMALLWEBRTC_LOG_LEVEL: "debug" });
    expect(config.ice).toMatchObject({ loopback: "always", ipv6: true });
    expect(config.logLevel).toBe("debug");
  });

  test("-v raises the log level, -vv to trace, --log-level wins", () => {
    expect(load(["-v"]).logLevel).toBe("debug");
    expect(load(["-vv"]).logLevel).toBe("trace");
    expect(load(["-v", "--log-level", "warn"]).logLevel).toBe("warn");
  });

  test("flags after a leading -- still count (deno task start -- --port 8080 passes the -- on)", () => {
    expect(load(["--", "--port", "8080", "--bot", "parrot"])).toMatchObject({ port: 8080, bot: "parrot" });
    expect(parseCommandLine(["--", "init"]).command).toBe("init");
  });
});

describe("config errors are one line naming the source, the key and the reason", () => {
  test("invalid JSON in the file", () => {
    const cwd = dirWith({ "smallwebrtc.json": '{"port": 80,,}' });
    expect(loadError([], {}, cwd)).toMatch(/^config file .*smallwebrtc\.json: invalid JSON/);
  });

  test("a wrong type in the file", () => {
    const cwd = dirWith({ "smallwebrtc.json": JSON.stringify({ limits: { maxSessions: "lots" } }) });
    expect(loadError([], {}, cwd)).toBe(
      "invalid config: limits.maxSessions from smallwebrtc.json: Invalid input: expected number, received string",
    );
  });

  test("an unknown key", () => {
    const cwd = dirWith({ "smallwebrtc.json": JSON.stringify({ prot: 80 }) });
    expect(loadError([], {}, cwd)).toBe("invalid config: prot from smallwebrtc.json: unknown key");
  });

  test("a missing --config file", () => {
    expect(loadError(["--config", "nope.json"])).toMatch(/^config file .*nope\.json: file not found$/);
  });

  test("bad values from env and flags name their variable or flag", () => {
    expect(loadError([], { SMALLWEBRTC_PORT: "eighty" })).toBe(
      "invalid config: port from env SMALLWEBRTC_PORT: Invalid input: expected number, received string",
    );
    expect(loadError(["--port", "99999"])).toMatch(/^invalid config: port from flag --port: Too big/);
    expect(loadError(["--log-level", "loud"])).toMatch(/^invalid config: logLevel from flag --log-level: /);
  });

  test("unknown flags and transports", () => {
    expect(() => parseCommandLine(["--prot", "1"])).toThrow(ConfigError);
    expect(() => parseCommandLine(["-t", "daily"])).toThrow("only webrtc");
    expect(parseCommandLine(["-t", "webrtc"]).help).toBe(false);
  });

  test("ESP32 mode needs a real host address", () => {
    expect(loadError(["--esp32"])).toMatch(/^invalid config: host from defaults: ESP32 mode needs the host set/);
    expect(load(["--esp32", "--host", "192.168.1.10"]).esp32).toBe(true);
  });

  test("unknown SMALLWEBRTC_* variables are reported as warnings", () => {
    const { warnings } = loadConfig({ env: { SMALLWEBRTC_PROT: "1" }, cwd: dirWith({}) });
    expect(warnings).toEqual(["ignoring unknown env variable SMALLWEBRTC_PROT"]);
  });
});

describe("ICE servers (Pipecat's --ice-servers / PIPECAT_ICE_SERVERS rules)", () => {
  test("bare URLs as separate flag values, Pipecat style", () => {
    expect(load(["--ice-servers", "stun:stun.example.com:3478", "turn:turn.example.com:3478"]).iceServers).toEqual([
      { urls: ["stun:stun.example.com:3478"] },
      { urls: ["turn:turn.example.com:3478"] },
    ]);
  });

  test("a JSON object with credentials", () => {
    const token = '{"urls": "turn:turn.example.com:3478", "username": "u", "credential": "p"}';
    expect(load(["--ice-servers", token]).iceServers).toEqual([
      { urls: ["turn:turn.example.com:3478"], username: "u", credential: "p" },
    ]);
  });

  test("comma-separated and JSON-array env values, SMALLWEBRTC_ over PIPECAT_", () => {
    expect(load([], { PIPECAT_ICE_SERVERS: "stun:a.example:1, stun:b.example:2" }).iceServers).toEqual([
      { urls: ["stun:a.example:1"] },
      { urls: ["stun:b.example:2"] },
    ]);
    expect(load([], { PIPECAT_ICE_SERVERS: '[{"urls": ["stun:a.example:1", "stun:c.example:3"]}, "stun:b.example:2"]' }).iceServers)
      .toEqual([{ urls: ["stun:a.example:1", "stun:c.example:3"] }, { urls: ["stun:b.example:2"] }]);
    expect(load([], { PIPECAT_ICE_SERVERS: "stun:a.example:1", SMALLWEBRTC_ICE_SERVERS: "stun:z.example:9" }).iceServers)
      .toEqual([{ urls: ["stun:z.example:9"] }]);
  });

  test("null values are dropped", () => {
    expect(load([], { PIPECAT_ICE_SERVERS: '{"urls": "stun:a.example:1", "username": null, "credential": null}' }).iceServers)
      .toEqual([{ urls: ["stun:a.example:1"] }]);
  });

  test("missing urls, unknown keys, malformed JSON, scalars and non-ICE URLs are errors", () => {
    expect(loadError([], { PIPECAT_ICE_SERVERS: '{"username": "u"}' })).toMatch(/iceServers\.0 from env PIPECAT_ICE_SERVERS: urls/);
    expect(loadError([], { PIPECAT_ICE_SERVERS: '{"urls": "stun:a:1", "port": 1}' })).toBe("invalid config: iceServers.0.port from env PIPECAT_ICE_SERVERS: unknown key");
    expect(loadError([], { PIPECAT_ICE_SERVERS: '{"urls": ' })).toMatch(/^env PIPECAT_ICE_SERVERS: iceServers: not valid JSON/);
    expect(loadError([], { PIPECAT_ICE_SERVERS: "[42]" })).toMatch(/iceServers\.0 from env PIPECAT_ICE_SERVERS/);
    expect(loadError(["--ice-servers", "http://example.com"])).toMatch(/must start with stun:, stuns:, turn: or turns:/);
  });
});

describe("TURN credentials", () => {
  test("the TURN REST scheme: <expiry>:<user> and base64(HMAC-SHA1(secret, username))", () => {
    // Reference value from: printf '%s' "1700086400:alice" | openssl dgst -sha1 -hmac north -binary | base64
    expect(mintTurnCredentials("north", "alice", 86400, 1_700_000_000_000)).toEqual({
      username: "1700086400:alice",
      credential: "SXua5ne/+mDhiHTp0pQJzRO4ESg=",
      expiresAt: 1700086400,
    });
  });

  test("a shared-secret TURN server is resolved with fresh credentials and never exposes the secret", () => {
    const config = load([], {
      SMALLWEBRTC_TURN: '{"urls": ["turn:turn.example.com:3478"], "secret": "north", "user": "alice", "ttlSecs": 600}',
      SMALLWEBRTC_ICE_SERVERS: "stun:stun.example.com:3478",
    });
    const servers = resolveIceServers(config, 1_700_000_000_000);
    expect(servers).toEqual([
      { urls: ["stun:stun.example.com:3478"] },
      { urls: ["turn:turn.example.com:3478"], username: "1700000600:alice", credential: expect.any(String) },
    ]);
    expect(JSON.stringify(servers)).not.toContain("north");
  });

  test("static TURN credentials are passed through", () => {
    const config = load([], { SMALLWEBRTC_TURN: '{"urls": ["turn:t.example:3478"], "username": "u", "credential": "p"}' });
    expect(resolveIceServers(config)).toEqual([{ urls: ["turn:t.example:3478"], username: "u", credential: "p" }]);
  });
});

describe("cluster", () => {
  test("redisUrl turns it on from flags or env, and needs advertiseUrl", () => {
    expect(load().cluster).toEqual({ heartbeatSecs: 5 });
    const config = load(["--redis-url", "redis://:pw@redis:6379/1", "--advertise-url", "http://10.0.0.5:7860/"], {
      SMALLWEBRTC_CLUSTER_HEARTBEAT_SECS: "2",
      SMALLWEBRTC_CLUSTER_INSTANCE_ID: "a-1",
    });
    expect(config.cluster).toEqual({
      redisUrl: "redis://:pw@redis:6379/1",
      advertiseUrl: "http://10.0.0.5:7860",
      heartbeatSecs: 2,
      instanceId: "a-1",
    });
    expect(loadError(["--redis-url", "redis://redis"])).toContain(
      "cluster.advertiseUrl from defaults: is required with cluster.redisUrl",
    );
    expect(loadError([], { SMALLWEBRTC_CLUSTER_REDIS_URL: "http://redis" })).toContain(
      "cluster.redisUrl from env SMALLWEBRTC_CLUSTER_REDIS_URL: must be a redis:// URL",
    );
    expect(loadError(["--redis-url", "redis://r", "--advertise-url", "10.0.0.5:7860"])).toContain(
      "cluster.advertiseUrl from flag --advertise-url: must be an http:// or https:// URL",
    );
  });
});

describe("JSON Schema", () => {
  test("documents every key with its default", () => {
    const schema = configJsonSchema() as { properties: Record<string, { default?: unknown; description?: string }> };
    expect(schema.properties.port).toMatchObject({ default: 7860 });
    for (const [key, property] of Object.entries(schema.properties)) {
      expect(property.description, `description of ${key}`).toBeString();
    }
  });
});

describe("example config (init)", () => {
  test("is valid JSON with comments, passes the schema, and equals the defaults", () => {
    const parsed = JSON.parse(stripJsonComments(exampleConfig()));
    expect(ConfigSchema.parse(parsed)).toEqual(defaultConfig());
  });
});
