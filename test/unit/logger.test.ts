import { describe, expect, test } from "bun:test";
import { createLogger, formatLogValue } from "../../lib/log/logger.ts";

describe("logger", () => {
  test("client-provided text cannot forge a line or flood the log", () => {
    expect(formatLogValue("plain-id_1.2")).toBe("plain-id_1.2");
    expect(formatLogValue("two words\nINFO fake line")).toBe('"two words\\nINFO fake line"');
    expect(formatLogValue("\u001b[31mred")).toBe('"\\u001b[31mred"');
    const long = formatLogValue("x".repeat(5000));
    expect(long.length).toBeLessThan(260);
    expect(long).toContain("(5000 chars)");
  });

  test("levels filter, children add fields", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "info", write: (line) => lines.push(line), clock: () => new Date(0) });
    logger.debug("hidden");
    logger.child({ pcId: "pc-1" }).warn("careful", { n: 2 });
    expect(lines).toEqual(["1970-01-01T00:00:00.000Z WARN  careful pcId=pc-1 n=2"]);
  });

  test("exception: the message escaped on the error line, then the stack frames, indented, one per line", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "error", write: (line) => lines.push(line), clock: () => new Date(0) });
    const error = new Error("bad\n2026-01-01T00:00:00.000Z INFO  forged");
    error.stack = `Error: ${error.message}\n    at bot (/srv/bot.ts:3:9)\n    at run (/srv/x\u001b[31m.ts:1:1)`;
    logger.child({ pcId: "pc-1" }).exception("bot failed", error);
    expect(lines).toEqual([
      '1970-01-01T00:00:00.000Z ERROR bot failed pcId=pc-1 error="bad\\n2026-01-01T00:00:00.000Z INFO  forged"',
      "    at bot (/srv/bot.ts:3:9)",
      "    at run (/srv/x?[31m.ts:1:1)",
    ]);
    logger.exception("thrown", "a string");
    expect(lines.at(-1)).toBe('1970-01-01T00:00:00.000Z ERROR thrown error="a string"');
  });
});
