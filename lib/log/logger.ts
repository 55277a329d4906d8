/**
 * A small levelled logger. Messages are fixed strings written by us; anything that may come from a client goes into
 * `fields`, where it is escaped and truncated so that a peer can never forge log lines or flood the log.
 */

export const LOG_LEVELS = ["error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  trace(message: string, fields?: LogFields): void;
  /** An error line with `error`'s message as the `error` field, then its stack frames, each on an indented line. */
  exception(message: string, error: unknown, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` (for example the `pcId`) to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where finished lines go; stderr by default so that stdout stays clean for machine-readable output. */
  write?: (line: string) => void;
  clock?: () => Date;
}

const MAX_FIELD_CHARS = 200;
const BARE_VALUE = /^[\w.:/@+-]{1,200}$/;
const MAX_STACK_FRAMES = 40;
const MAX_FRAME_CHARS = 300;

/** Renders one field value so that it cannot break the line format: bare when harmless, JSON-quoted otherwise. */
export function formatLogValue(value: unknown): string {
  if (value instanceof Error) value = value.message;
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  let text = typeof value === "string" ? value : safeJson(value);
  if (text.length > MAX_FIELD_CHARS) text = `${text.slice(0, MAX_FIELD_CHARS)}…(${text.length} chars)`;
  return BARE_VALUE.test(text) ? text : JSON.stringify(text);
}

/**
 * The "at ..." lines of an error's stack, indented, so that no frame can pass for a log line of its own. The message
 * lines are left out: the message is already on the error line, escaped, and it may carry a client's words.
 */
function stackFrames(error: unknown): string[] {
  const stack = error instanceof Error ? error.stack ?? "" : "";
  return stack
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .slice(0, MAX_STACK_FRAMES)
    .map((line) => `    ${line.trim().replace(/\p{Cc}/gu, "?").slice(0, MAX_FRAME_CHARS)}`);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  const level = options.level ?? "info";
  const threshold = LOG_LEVELS.indexOf(level);
  const write = options.write ?? ((line: string) => console.error(line));
  const clock = options.clock ?? (() => new Date());

  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(at) > threshold) return;
    const all = fields ? { ...bound, ...fields } : bound;
    let line = `${clock().toISOString()} ${at.toUpperCase().padEnd(5)} ${message}`;
    for (const [key, value] of Object.entries(all)) line += ` ${key}=${formatLogValue(value)}`;
    write(line);
  };
  const exception = (message: string, error: unknown, fields?: LogFields) => {
    emit("error", message, { ...fields, error: error instanceof Error ? error.message : String(error) });
    for (const frame of stackFrames(error)) write(frame);
  };

  return {
    level,
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    trace: (m, f) => emit("trace", m, f),
    exception,
    enabled: (at) => LOG_LEVELS.indexOf(at) <= threshold,
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/** A logger that drops everything; the default for library objects built without one. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
