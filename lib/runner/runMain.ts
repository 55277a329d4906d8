/**
 * The development runner, Pipecat's `main()` in TypeScript: parse the command line, load the config, serve the
 * signalling routes and the test client, and start `bot` once per connection. SIGINT/SIGTERM end every session
 * with `peerLeft` and exit within 3 s.
 */
import { existsSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import process from "node:process";
import { formatFlagHelp, parseCommandLine } from "../config/cli.ts";
import { ConfigError } from "../config/layers.ts";
import { DEFAULT_CONFIG_FILE, loadConfig } from "../config/load.ts";
import { exampleConfig } from "../config/exampleConfig.ts";
import { configJsonSchema } from "../config/schema.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { AssetSource } from "../server/assets.ts";
import { mintAccessToken } from "../server/accessTokens.ts";
import { clientAssets } from "../server/clientAssets.ts";
import { launchBot } from "./launchBot.ts";
import { resolveBot } from "./resolveBot.ts";
import { writeApiTypes, writeStarterBot } from "./botScaffold.ts";
import { parseBotSpec } from "../config/botSpec.ts";
import { loggableUrl } from "../bridge/botSocket.ts";
import { SmallWebRTCServer } from "../server/smallWebRTCServer.ts";
import { Cluster } from "../cluster/cluster.ts";
import { warmUpVideoThread } from "../media/vp8Thread.ts";
import { checkCodecFiles, warmUpAudio } from "../media/warmUp.ts";
import { VERSION } from "../version.ts";
import type { Bot } from "../bots/bot.ts";
import { BundledFileError, useBundledFileOverrides } from "../assets/bundledFiles.ts";
import { WeriftDriftError } from "../webrtc/weriftPatches.ts";
import type { Config } from "../config/schema.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";
import { workerRole } from "../workers/messages.ts";
import { workerPortRange } from "../workers/portRanges.ts";
import { canLaunchWorkers, launchWorker } from "../workers/workerLauncher.ts";
import { runWorker } from "../workers/workerMain.ts";
import { WorkerPool, WorkerReportedError } from "../workers/workerPool.ts";

export interface RunMainOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  /** The test client served at /client/; default: the built-in one. */
  assets?: AssetSource;
  /** Name shown in --help. */
  programName?: string;
}

const SHUTDOWN_DEADLINE_MS = 3000;

/**
 * Runs `bot` for every connection; without one, what `--bot` (or the `bot` config key) names: a built-in bot or a
 * bot file, loaded before the server listens.
 * Resolves with the running server, or undefined when the command line only asked for help, a version or a schema.
 */
export async function runMain(bot?: Bot, options: RunMainOptions = {}): Promise<SmallWebRTCServer | undefined> {
  const args = options.args ?? process.argv.slice(2);
  const env = options.env ?? process.env;
  const program = options.programName ?? "smallwebrtc";
  try {
    const commandLine = parseCommandLine(args);
    if (commandLine.help) return print(usage(program));
    if (commandLine.version) return print(`${program} ${VERSION}`);
    if (commandLine.printConfigSchema) return print(JSON.stringify(configJsonSchema(), null, 2));
    if (commandLine.command === "init") {
      const starter = commandLine.layer.values.bot;
      if (typeof starter === "string") return print(writeStarterBot(starter));
      return writeExampleConfig(commandLine.configPath ?? DEFAULT_CONFIG_FILE);
    }
    if (commandLine.command === "types") return print(writeApiTypes(commandLine.directory ?? "."));
    if (commandLine.command && commandLine.command !== "token") {
      throw new ConfigError(`unknown command "${commandLine.command}" (see --help)`);
    }

    const { config, file, warnings } = loadConfig({ env, configPath: commandLine.configPath, flags: commandLine.layer });
    if (commandLine.command === "token") return printToken(config.auth.secret, commandLine.ttlSecs ?? 3600);
    const logger = createLogger({ level: config.logLevel });
    useBundledFileOverrides(config.assetsDir);
    const replaced = checkCodecFiles();
    for (const warning of warnings) logger.warn(warning);
    if (file) logger.info("config loaded", { file });
    if (replaced.length > 0) logger.info("bundled files replaced from assetsDir", { files: replaced.join(",") });

    const spec = parseBotSpec(config.bot)!;
    const runBot = bot ?? (await resolveBot(spec, config, env));
    const warmUp = () =>
      warmUpCodecs(!bot && spec.kind === "builtIn" && spec.name === "mirror", logger)
        .catch((error: BundledFileError) => exit(program, error));
    const onConnection = (connection: SmallWebRTCConnection, body: unknown, sessionId: string | undefined) =>
      launchBot(runBot, { webrtcConnection: connection, body, sessionId, cliArgs: args });
    const role = workerRole(env);
    if (role) {
      await runWorker({ ...role, config, onConnection, warmUp, logger: logger.child({ worker: role.index }) });
      return undefined;
    }
    const workers = workerCount(config, logger);
    const server = new SmallWebRTCServer({
      config,
      assets: options.assets ?? clientAssets(),
      logger,
      onConnection,
      sessions: workers > 1
        ? (metrics) =>
          new WorkerPool({
            config,
            count: workers,
            metrics,
            launch: launchWorker,
            logger,
            // The worker printed the one line that says why.
            onFatal: () => void server.shutdown().finally(() => process.exit(2)),
          })
        : undefined,
      coordinator: config.cluster.redisUrl ? (parts) => new Cluster({ config, ...parts }) : undefined,
    });
    const listener = await server.listen();
    logger.info(`smallwebrtc ${VERSION} listening`, {
      url: listener.url,
      bot: bot ? "custom" : spec.kind === "bridge" ? `bridge to ${loggableUrl(spec.url)}` : config.bot,
      workers,
      ...(server.coordinator instanceof Cluster ? { instance: server.coordinator.instanceId } : {}),
    });
    console.log(`\n  smallwebrtc is ready: open ${listener.url}/client/ in your browser\n`);
    installShutdown(server, logger);
    if (workers === 1) void warmUp();
    return server;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof WeriftDriftError || error instanceof BundledFileError) {
      exit(program, error);
    }
    // The worker printed the one line that says why.
    if (error instanceof WorkerReportedError) process.exit(2);
    throw error;
  }
}

/** How many processes run sessions: `workers`, else one per core; one where the runtime cannot start processes. */
function workerCount(config: Config, logger: Logger): number {
  const wanted = config.workers ?? availableParallelism();
  if (wanted > 1 && !canLaunchWorkers()) {
    logger.warn("workers need permission to start processes (Deno: --allow-run); serving from one process", { wanted });
    return 1;
  }
  if (wanted > 1) workerPortRange(config.ice.portRange, 0, wanted);
  return wanted;
}

/** Stops on a mistake the user can fix, with the one line that names it. */
function exit(program: string, error: Error): never {
  console.error(`${program}: ${error.message}`);
  process.exit(2);
}

/**
 * Warms the codecs after listening; video only for bots that use it (its codec instance costs ~18 MB). This is also
 * the first load, and so the hash check, of the embedded files it uses: one that fails leaves a server that cannot
 * carry a call, so that error is passed on to stop it.
 */
async function warmUpCodecs(video: boolean, logger: Logger): Promise<void> {
  const start = performance.now();
  try {
    await warmUpAudio();
    if (video) await warmUpVideoThread();
    logger.debug("codecs warmed up", { ms: Math.round(performance.now() - start) });
  } catch (error) {
    if (error instanceof BundledFileError) throw error;
    logger.warn("codec warm-up failed", { error });
  }
}

function installShutdown(server: SmallWebRTCServer, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal, sessions: server.sessions.size });
    const deadline = setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS);
    server.shutdown().finally(() => {
      clearTimeout(deadline);
      process.exit(0);
    });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

function usage(program: string): string {
  return `Usage: ${program} [options]
       ${program} init [--config PATH]   write a commented example config (default ./smallwebrtc.json)
       ${program} init --bot bot.ts      write a commented starter bot; run it with --bot bot.ts
       ${program} token [--ttl SECONDS]  print an access token signed with auth.secret
       ${program} types [DIR]            write the API's types for editors: smallwebrtc.d.ts and tsconfig.json

Serves Pipecat SmallWebRTC clients (browsers, native apps, ESP32 devices) and runs a bot for each connection.

Options:
${formatFlagHelp()}

Every setting can also come from a JSON config file (--config, or ./smallwebrtc.json) and from SMALLWEBRTC_*
environment variables (e.g. SMALLWEBRTC_PORT=8080); flags win over env, env over the file.
Run with --print-config-schema for every key, its default and its meaning.`;
}

/** `token`: a short-lived access token signed with `auth.secret`, for testing or for scripts. */
function printToken(secret: string | undefined, ttlSecs: number): undefined {
  if (!secret) throw new ConfigError("token needs auth.secret in the config (or SMALLWEBRTC_AUTH_SECRET)");
  return print(mintAccessToken(secret, ttlSecs));
}

/** `init`: writes the commented example config, never over an existing file. */
function writeExampleConfig(path: string): undefined {
  if (existsSync(path)) throw new ConfigError(`${path} already exists; remove it first or pass --config another.json`);
  try {
    writeFileSync(path, exampleConfig());
  } catch (error) {
    // Deno without --allow-write lands here too (NotCapable), as does a missing or read-only directory.
    throw new ConfigError(`cannot write ${path}: ${(error as Error).message}`);
  }
  return print(`wrote ${path}: every setting with its default and meaning; edit what you need`);
}

function print(text: string): undefined {
  console.log(text);
  return undefined;
}
