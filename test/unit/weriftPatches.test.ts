/** The werift patches refuse to apply to a werift they were not written for, with one line that says why. */
import { describe, expect, test } from "bun:test";
import weriftPackage from "../../node_modules/werift/package.json" with { type: "json" };
import { applyWeriftPatches, PATCHED_WERIFT_VERSION, weriftDrift } from "../../lib/webrtc/weriftPatches.ts";

class Target {
  method(_a: unknown) {}
}

describe("werift drift check", () => {
  test("the installed werift is the one the patches were written for, and every wrapped method is in place", () => {
    expect(weriftPackage.version).toBe(PATCHED_WERIFT_VERSION);
    expect(weriftDrift(weriftPackage.version)).toBeUndefined();
    expect(() => applyWeriftPatches()).not.toThrow();
  });

  test("another version is refused", () => {
    expect(weriftDrift("0.26.0")).toBe(
      `werift 0.26.0 is installed, but lib/webrtc/weriftPatches.ts was written for werift ${PATCHED_WERIFT_VERSION}: ` +
        `install ${PATCHED_WERIFT_VERSION} (npm ci) or re-check every patch against 0.26.0`,
    );
  });

  test("a wrapped method that is gone, or that changed its parameters, is named", () => {
    const target = { name: "Target#method", owner: Target.prototype, arity: 1 };
    expect(weriftDrift(PATCHED_WERIFT_VERSION, [{ ...target, method: "method" }])).toBeUndefined();
    expect(weriftDrift(PATCHED_WERIFT_VERSION, [{ ...target, method: "renamed" }])).toBe(
      `werift ${PATCHED_WERIFT_VERSION} has no Target#method, which lib/webrtc/weriftPatches.ts wraps`,
    );
    expect(weriftDrift(PATCHED_WERIFT_VERSION, [{ ...target, method: "method", arity: 2 }])).toBe(
      `werift ${PATCHED_WERIFT_VERSION}'s Target#method takes 1 parameters, not the 2 lib/webrtc/weriftPatches.ts expects`,
    );
  });
});
