/**
 * The 60 s version of scripts/soak: 20 echo sessions against the server process, then all closed. Memory must not
 * grow while they run, and every UDP socket and file descriptor must be given back afterwards.
 */
import { describe, expect, test } from "bun:test";
import { runSoak } from "../../scripts/soak.ts";

describe("soak", () => {
  test("20 sessions for 60 s: no growth, every socket returned", async () => {
    const report = await runSoak({ sessions: 20, seconds: 60, log: (line) => console.log(`soak: ${line}`) });
    console.log(`soak: ${JSON.stringify(report)}`);
    expect(report.udpSockets.during).toBeGreaterThanOrEqual(report.udpSockets.idle + 20);
    expect(report.udpSockets.afterClose).toBe(report.udpSockets.idle);
    expect(report.fds.afterClose).toBeLessThanOrEqual(report.fds.idle + 1);
    expect(report.rssGrowth).toBeLessThan(0.1);
    // Each session echoed most of the minute (50 packets a second, silence included).
    expect(report.echoPacketsPerSession).toBeGreaterThan(50 * 50);
  }, 180_000);
});
