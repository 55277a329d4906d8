/**
 * The configuration schema: the single source of truth for every setting, its default and its documentation.
 * The JSON Schema (`--print-config-schema`), the env variable names and the README's config table all derive from it.
 */
import { z } from "zod";
import { LOG_LEVELS } from "../log/logger.ts";
import { IceServerSchema } from "./iceServers.ts";

import { BOT_SPEC_HELP, parseBotSpec } from "./botSpec.ts";

const turnUrls = z
  .array(z.string().trim().regex(/^turns?:\S+$/i, "must start with turn: or turns:"))
  .min(1)
  .describe("TURN URLs, for example turn:turn.example.com:3478?transport=udp.");

const StaticTurnSchema = z
  .strictObject({
    urls: turnUrls,
    username: z.string().min(1).describe("Static TURN username."),
    credential: z.string().min(1).describe("Static TURN password."),
  })
  .describe("A TURN server with fixed credentials.");

const SharedSecretTurnSchema = z
  .strictObject({
    urls: turnUrls,
    secret: z
      .string()
      .min(1)
      .describe("Shared secret of the TURN server (coturn static-auth-secret). It never leaves this server."),
    user: z.string().min(1).default("smallwebrtc").describe("User part of minted usernames (<expiry>:<user>)."),
    ttlSecs: z
      .number()
      .int()
      .min(60)
      .max(7 * 86400)
      .default(86400)
      .describe("Lifetime of minted credentials in seconds."),
  })
  .describe("A TURN server with short-lived credentials minted per session from a shared secret (TURN REST scheme).");

export const TurnSchema = z.union([SharedSecretTurnSchema, StaticTurnSchema]);
export type TurnConfig = z.output<typeof TurnSchema>;

const IceSchema = z
  .strictObject({
    interfaces: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "IP addresses or interface names (eth0, wlan0) to gather host candidates on. Empty: every non-internal IPv4 address.",
      ),
    loopback: z
      .enum(["auto", "always", "never"])
      .default("auto")
      .describe(
        "Offer a 127.0.0.1 host candidate. auto: when the server binds to a loopback host or the machine has no other address.",
      ),
    ipv6: z.boolean().default(false).describe("Also gather IPv6 host candidates."),
    portRange: z
      .tuple([z.number().int().min(1024).max(65535), z.number().int().min(1024).max(65535)])
      .refine(([min, max]) => min < max, "the first port must be below the second")
      .optional()
      .describe("UDP ports [first, last] for media, one per session and address; for firewalls that open a range."),
    udpPort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("Single-port mode: all sessions share this one UDP port (demultiplexed by ICE username)."),
    tcpPort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe(
        "ICE over TCP: every session also offers a passive TCP candidate on this one port, for clients whose " +
          "networks drop UDP (ESP32 devices are offered none: libpeer speaks UDP only).",
      ),
    allowSpecialCandidates: z
      .boolean()
      .default(false)
      .describe("Use client candidates on special addresses (multicast, link-local, loopback, ...); normally dropped."),
    advertisedIps: z
      .array(z.string().regex(/^[\d.]+(\/[\d.]+)?$/, "must be PUBLIC or PUBLIC/PRIVATE IPv4 addresses"))
      .default([])
      .describe(
        "NAT 1:1 addresses to offer as extra host candidates: PUBLIC (for every private one) or PUBLIC/PRIVATE.",
      ),
  })
  .describe("Where and how ICE host candidates are gathered.");

const AuthSchema = z
  .strictObject({
    token: z.string().min(16).optional().describe("A bearer token clients must send (Authorization: Bearer <token>)."),
    secret: z
      .string()
      .min(16)
      .optional()
      .describe("Secret for short-lived signed tokens minted by your backend or `smallwebrtc token`; never sent to clients."),
  })
  .describe("Who may use /start, /api/offer and /sessions (and /metrics). Neither key set: everyone.");

const TlsSchema = z
  .strictObject({
    certFile: z.string().min(1).describe("PEM certificate (chain) file."),
    keyFile: z.string().min(1).describe("PEM private key file."),
  })
  .describe("Serve HTTPS: browsers only allow microphones on https:// pages or localhost.");

const LimitsSchema = z
  .strictObject({
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(64 * 1024)
      .describe("Largest accepted HTTP request body; larger requests get 413."),
    maxSdpBytes: z.number().int().min(1024).default(32 * 1024).describe("Largest accepted SDP offer."),
    maxSdpLines: z.number().int().min(16).default(1000).describe("Most lines in an SDP offer."),
    maxMediaSections: z.number().int().min(1).default(8).describe("Most m= sections in an offer (the web client uses 4)."),
    maxRemoteCandidates: z
      .number()
      .int()
      .min(1)
      .default(50)
      .describe("Most ICE candidates a client may give per peer connection, in its offer and by PATCH together."),
    offersPerMinute: z
      .number()
      .int()
      .min(1)
      .default(30)
      .describe("Offers and /start calls allowed per client IP and minute; more get 429 with Retry-After."),
    trustProxyHeaders: z
      .boolean()
      .default(false)
      .describe("Take the client IP from X-Forwarded-For (only behind a reverse proxy you run)."),
    maxSessions: z
      .number()
      .int()
      .min(1)
      .default(200)
      .describe("Most peer connections open at once; further offers get 503."),
    maxPendingStarts: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe("Most /start sessions waiting for their offer; the oldest is dropped first."),
    startTtlSecs: z
      .number()
      .int()
      .min(1)
      .default(300)
      .describe("How long a /start session waits for its first offer."),
    connectTimeoutSecs: z
      .number()
      .min(1)
      .default(60)
      .describe("A peer connection that is not connected this long after its offer is closed."),
    keepaliveTimeoutSecs: z
      .number()
      .min(1)
      .default(3)
      .describe("A client that sends ping keep-alives is gone once pings and all its traffic stop this long."),
    silenceTimeoutSecs: z
      .number()
      .min(2)
      .default(12)
      .describe("Any client is gone once nothing (media, data, ICE consent answers) arrived from it this long."),
    dataChannelTimeoutSecs: z
      .number()
      .min(1)
      .default(10)
      .describe("After connecting, how long to keep queueing messages for a data channel that has not opened."),
    workerLoad: z
      .number()
      .min(0.05)
      .max(1)
      .default(0.75)
      .describe(
        "With several workers: a worker busier than this share of a core takes no new sessions; when every " +
          "worker is, offers get 503 with Retry-After.",
      ),
    workerTimeoutSecs: z
      .number()
      .min(1)
      .max(60)
      .default(3)
      .describe("A worker whose heartbeats stop this long is hung: it is killed and replaced, its sessions end."),
    queuedMessages: z
      .number()
      .int()
      .min(1)
      .default(50)
      .describe("Messages queued per session before its data channel opens; older ones are kept, newer dropped."),
  })
  .describe("Resource bounds.");

const AudioSchema = z
  .strictObject({
    opusComplexity: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(5)
      .describe("Opus encoder complexity (0-10) of bot audio while the server has CPU to spare. 5 is libwebrtc's on phones."),
    adaptiveComplexity: z
      .boolean()
      .default(true)
      .describe("Lower the complexity (to 3, then 1) while the server uses more than 75 % of a core, and raise it again below 50 %."),
    inFilter: z
      .enum(["none", "rnnoise"])
      .default("none")
      .describe(
        "Filter on client audio before the VAD and the bot, in every session of a built-in bot or the bridge " +
          "(TransportParams audioInFilter; a bot file sets its own): rnnoise suppresses noise.",
      ),
    mixer: z
      .strictObject({
        file: z
          .string()
          .trim()
          .min(1)
          .optional()
          .describe(
            "A WAV file looped under the built-in bots' audio (TransportParams audioOutMixer), relative to the " +
              "current directory; read at start-up, where a bad file stops the server. Unset: none.",
          ),
        volume: z.number().min(0).max(1).default(0.4).describe("Its volume, from 0 (silent) to 1 (as recorded)."),
      })
      .prefault({})
      .describe("A background sound under the built-in bots' audio."),
  })
  .describe("Audio processing: bot audio encoding, the filter on client audio, and a background sound.");

const MemorySchema = z
  .strictObject({
    fullCollectionStepMb: z
      .number()
      .int()
      .min(0)
      .max(4096)
      .default(24)
      .describe(
        "Under Bun, request a full garbage collection each time the heap has grown by this many MB since the last " +
          "one, which keeps RSS near the live size under media load (each one pauses the process for tens of ms). " +
          "0: never; leave collections to the runtime.",
      ),
  })
  .describe("Memory management.");

const ClusterSchema = z
  .strictObject({
    redisUrl: z
      .string()
      .trim()
      .regex(/^redis:\/\/\S+$/i, "must be a redis:// URL")
      .optional()
      .describe(
        "redis://[user:password@]host:port[/db]: several instances share this Redis to serve one URL (sessions, " +
          "/start records, load). Unset: one instance, and no Redis.",
      ),
    advertiseUrl: z
      .string()
      .trim()
      .regex(/^https?:\/\/\S+$/i, "must be an http:// or https:// URL")
      .transform((url) => url.replace(/\/+$/, ""))
      .optional()
      .describe("The internal URL other instances reach this one at (required with redisUrl), e.g. http://10.0.0.5:7860."),
    heartbeatSecs: z
      .number()
      .min(1)
      .max(60)
      .default(5)
      .describe("How often this instance refreshes its registry entries; a dead one's expire after three times this."),
    instanceId: z
      .string()
      .regex(/^[\w.-]{1,64}$/, "must be 1 to 64 letters, digits, '.', '_' or '-'")
      .optional()
      .describe("This instance's name in the registry. Unset: a random one, printed at start."),
  })
  .describe("Several instances behind one URL, coordinated through Redis.");

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII and spaces: what every WebSocket client accepts in a header value. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

const BridgeSchema = z
  .strictObject({
    url: z
      .string()
      .trim()
      .regex(/^wss?:\/\/\S+$/i, "must be a ws:// or wss:// URL")
      .optional()
      .describe("WebSocket URL of the remote Pipecat bot every session is bridged to (--bot ws://... is the same)."),
    headers: z
      .record(z.string(), z.string().regex(HEADER_VALUE, "must be printable ASCII"))
      .superRefine((headers, ctx) => {
        for (const name of Object.keys(headers).filter((name) => !HEADER_NAME.test(name))) {
          ctx.addIssue({ code: "custom", path: [name], message: "is not an HTTP header name" });
        }
      })
      .default({})
      .describe("HTTP headers sent with every WebSocket upgrade to the bot, for its auth. Never logged."),
    connectTimeoutSecs: z
      .number()
      .min(1)
      .max(120)
      .default(10)
      .describe("A bot that has not accepted the WebSocket this long after the client connected ends the session."),
    audioInSampleRate: z
      .number()
      .int()
      .min(8000)
      .max(48000)
      .default(16000)
      .describe("Sample rate of the client audio sent to the bot (PCM s16le, mono, 20 ms frames)."),
    audioOutSampleRate: z
      .number()
      .int()
      .min(8000)
      .max(48000)
      .default(24000)
      .describe(
        "Sample rate the bot's audio mostly has (Pipecat's default output rate is 24000): bot audio at this rate " +
          "is encoded as it comes, audio at other rates is resampled first.",
      ),
    audioOutLive: z
      .boolean()
      .default(false)
      .describe(
        "The bot streams its audio in real time (an echo, a relay of a call) instead of sending speech ahead as " +
          "Pipecat bots do: bot audio is then sent with the least latency, quiet frames skipped when jitter has " +
          "built a backlog, as the built-in echo does.",
      ),
    maxQueuedMs: z
      .number()
      .int()
      .min(200)
      .max(120_000)
      .default(10_000)
      .describe(
        "Most audio queued each way (for a bot that stalls, and for bot speech, which Pipecat sends at twice real " +
          "time); the oldest is dropped beyond it and counted in /metrics.",
      ),
  })
  .describe("The bridge to a remote Pipecat bot that speaks Pipecat's protobuf frames over a WebSocket.");

/** The assistant's services are OpenAI's by default. */
const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** One OpenAI-compatible service of the assistant (OpenAI itself, or Ollama, llama.cpp, vLLM, speaches, Kokoro...). */
function serviceSchema(what: string, model: string) {
  return z.strictObject({
    baseUrl: z
      .string()
      .trim()
      .regex(/^https?:\/\/\S+$/i, "must be an http:// or https:// URL")
      .transform((url) => url.replace(/\/+$/, ""))
      .default(OPENAI_BASE_URL)
      .describe(`Base URL of the ${what} API (OpenAI's, or a server of yours speaking the same API).`),
    model: z.string().trim().min(1).default(model).describe(`Model the ${what} requests name.`),
    apiKey: z
      .string()
      .min(1)
      .optional()
      .describe("API key, sent as a Bearer token whenever it is set. Never logged. Unset: read from apiKeyEnv."),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an env variable name")
      .optional()
      .describe(
        "Env variable holding the API key when apiKey is unset. Default: OPENAI_API_KEY for OpenAI's own URL, " +
          "none for any other server, so your OpenAI key never goes to a server on your LAN unless you say so.",
      ),
    timeoutSecs: z
      .number()
      .min(1)
      .max(300)
      .default(30)
      .describe("A request not answered, or whose stream went quiet, this long fails (the next turn tries again)."),
  });
}

const AssistantSchema = z
  .strictObject({
    systemPrompt: z
      .string()
      .default(
        "You are a friendly voice assistant. Your replies are spoken aloud: answer in one to three short sentences " +
          "of plain text, with no lists, markdown or emoji.",
      )
      .describe("The LLM's system prompt."),
    greeting: z
      .string()
      .default("Hello! How can I help you?")
      .describe('What the assistant says when a client connects ("" for nothing).'),
    stt: serviceSchema("speech-to-text (/audio/transcriptions)", "gpt-4o-mini-transcribe")
      .extend({
        language: z
          .string()
          .regex(/^[a-z]{2,3}$/, "must be an ISO-639-1 code such as en")
          .optional()
          .describe("Language of the user's speech (ISO-639-1); unset, the service detects it."),
      })
      .prefault({}),
    llm: serviceSchema("LLM (/chat/completions, streamed)", "gpt-4.1-mini").prefault({}),
    tts: serviceSchema("text-to-speech (/audio/speech, pcm)", "gpt-4o-mini-tts")
      .extend({ voice: z.string().trim().min(1).default("alloy").describe("Voice the speech is made with.") })
      .prefault({}),
    vad: z
      .strictObject({
        stopSecs: z
          .number()
          .min(0.1)
          .max(5)
          .default(0.8)
          .describe("Silence after speech that ends the user's turn (shorter answers sooner, and cuts pauses)."),
      })
      .prefault({}),
  })
  .describe(
    "The assistant bot (--bot assistant): speech to text, an LLM and text to speech over OpenAI-compatible APIs.",
  );

export const ConfigSchema = z
  .strictObject({
    host: z
      .string()
      .trim()
      .min(1)
      .default("localhost")
      .describe("Address the HTTP server binds to. In ESP32 mode, also the only IP whose candidates answers keep."),
    port: z.number().int().min(0).max(65535).default(7860).describe("HTTP port (0 picks a free one)."),
    iceServers: z
      .array(IceServerSchema)
      .default([])
      .describe("STUN/TURN servers used by this server and handed to clients by /start. None: host candidates only."),
    turn: TurnSchema.optional().describe("A TURN server, with static or short-lived shared-secret credentials."),
    esp32: z.boolean().default(false).describe("Shape SDP answers for pipecat-esp32 (libpeer) devices."),
    singleSession: z
      .boolean()
      .default(false)
      .describe(
        "One session at a time, as Pipecat Cloud runs its image (one session per process): while it is live, a new " +
          "offer gets 409; its own re-offers, restarts and trickle still work.",
      ),
    bot: z
      .string()
      .trim()
      .refine((value) => parseBotSpec(value) !== undefined, {
        error: (issue) => `${JSON.stringify(issue.input)} is not ${BOT_SPEC_HELP}`,
      })
      .optional()
      .describe(
        "What runs for each connection: a built-in bot (echo, the default when neither this nor bridge.url is set: " +
          "audio and messages back; parrot: says back what you said; mirror: camera and audio back; assistant: a " +
          "voice assistant over OpenAI-compatible APIs, see assistant), a bot file " +
          "exporting bot(args) (.ts, .js or .mjs, relative to the current directory, loaded at start-up; it imports " +
          'the API as "smallwebrtc"), or the ws:// or wss:// URL of a remote Pipecat bot that each session is ' +
          "bridged to (the same as bridge.url; set one or the other).",
      ),
    allowedOrigins: z
      .array(z.string().min(1))
      .default([])
      .describe("Origins allowed to call the API cross-origin ('*' for any). Same-origin and localhost always work."),
    workers: z
      .number()
      .int()
      .min(1)
      .max(256)
      .optional()
      .describe(
        "Processes that run sessions (each owns its connections, codecs and bots); the HTTP signalling stays in the " +
          "main one. Unset: one per CPU core. 1: a single process that does everything.",
      ),
    logLevel: z.enum(LOG_LEVELS).default("info").describe("Log verbosity."),
    assetsDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Directory of replacement codec files (opus.wasm, libav-vp8-opus.wasm, ...) used instead of the embedded ones.",
      ),
    folder: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Directory whose files are served at /files/<path> (Pipecat's runner --folder), e.g. for recordings a bot " +
          "writes. Paths that would leave it (.., absolute, symlinks to outside) are refused.",
      ),
    auth: AuthSchema.prefault({}),
    tls: TlsSchema.optional(),
    ice: IceSchema.prefault({}),
    limits: LimitsSchema.prefault({}),
    audio: AudioSchema.prefault({}),
    memory: MemorySchema.prefault({}),
    bridge: BridgeSchema.prefault({}),
    assistant: AssistantSchema.prefault({}),
    cluster: ClusterSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.esp32 && /^(localhost|127\.\d+\.\d+\.\d+|::1|0\.0\.0\.0|::)$/i.test(config.host)) {
      ctx.addIssue({
        code: "custom",
        path: ["host"],
        message: "ESP32 mode needs the host set to this machine's LAN IP that the device can reach, not " + config.host,
      });
    }
    if (config.bot !== undefined && config.bridge.url !== undefined && config.bot !== config.bridge.url) {
      ctx.addIssue({
        code: "custom",
        path: ["bot"],
        message: `names ${config.bot} while bridge.url names ${config.bridge.url}: set only one of them`,
      });
    }
    if (config.cluster.redisUrl !== undefined && config.cluster.advertiseUrl === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["cluster", "advertiseUrl"],
        message: "is required with cluster.redisUrl: the URL other instances reach this one at",
      });
    }
  })
  // Unset, the bot is the bridge when bridge.url is set, else the echo bot.
  .transform((config) => ({ ...config, bot: config.bot ?? config.bridge.url ?? "echo" }))
  .describe("smallwebrtc configuration");

/** A fully validated configuration with every default filled in. */
export type Config = z.output<typeof ConfigSchema>;
/** What a user may write: every key optional. */
export type ConfigInput = z.input<typeof ConfigSchema>;

export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

export function defaultConfig(): Config {
  return ConfigSchema.parse({});
}
