/**
 * The layering rules of the library (DESIGN.md), checked on the import statements themselves so they cannot drift:
 * only lib/webrtc reaches werift, the transport's modules form no cycle, lower layers never import higher ones, and the
 * bridge and the services stay above the transport and the pipeline.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";

const LIB = join(repoRoot, "lib");

/** Every .ts file under lib, as a path relative to the repository ("lib/webrtc/peer.ts"). */
function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return libFiles(path);
    return entry.name.endsWith(".ts") ? [relative(repoRoot, path)] : [];
  });
}

/** The module specifiers a file imports or re-exports (type-only ones included: they are dependencies too). */
function specifiers(file: string): string[] {
  const source = readFileSync(join(repoRoot, file), "utf8");
  return [...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"/gms)].map((match) => match[1]);
}

/** lib files a file imports, by relative path. */
function localImports(file: string): string[] {
  return specifiers(file)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => relative(repoRoot, resolve(dirname(join(repoRoot, file)), specifier)))
    .filter((path) => path.startsWith("lib/"));
}

const files = libFiles();

describe("layering", () => {
  test("only lib/webrtc imports werift", () => {
    const importers = files.filter((file) => specifiers(file).some((s) => s === "werift" || s.startsWith("werift/")));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((file) => !file.startsWith("lib/webrtc/"))).toEqual([]);
  });

  test("lib/transport has no import cycle", () => {
    const transport = files.filter((file) => file.startsWith("lib/transport/"));
    expect(transport).toContain("lib/transport/smallWebRTCTransport.ts");
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) {
        cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
        return;
      }
      for (const next of localImports(file).filter((f) => f.startsWith("lib/transport/"))) visit(next, [...path, file]);
    };
    for (const file of transport) visit(file, []);
    expect(cycles).toEqual([]);
  });

  test("lower layers do not import higher ones", () => {
    const rules: [layer: string, forbidden: string[]][] = [
      ["lib/pipeline/", ["lib/webrtc/", "lib/transport/", "lib/server/", "lib/runner/", "lib/media/", "lib/bridge/"]],
      ["lib/media/", ["lib/webrtc/", "lib/transport/", "lib/server/", "lib/runner/", "lib/bridge/"]],
      ["lib/webrtc/", ["lib/transport/", "lib/server/", "lib/runner/", "lib/bots/", "lib/bridge/"]],
      ["lib/transport/", ["lib/server/", "lib/runner/", "lib/bots/", "lib/bridge/"]],
      // The bridge knows the pipeline and the transport, never WebRTC or the media underneath.
      ["lib/bridge/", ["lib/webrtc/", "lib/media/", "lib/server/", "lib/runner/", "lib/bots/"]],
      // Services know the pipeline (and media's WAV and resampler), never the connection, the server or the bots.
      ["lib/services/", ["lib/webrtc/", "lib/transport/", "lib/server/", "lib/runner/", "lib/bots/", "lib/bridge/"]],
      ["lib/pipeline/", ["lib/services/"]],
      ["lib/media/", ["lib/services/"]],
    ];
    const violations = files.flatMap((file) =>
      rules
        .filter(([layer]) => file.startsWith(layer))
        .flatMap(([, forbidden]) =>
          localImports(file).filter((target) => forbidden.some((prefix) => target.startsWith(prefix))).map((target) => `${file} -> ${target}`)
        )
    );
    expect(violations).toEqual([]);
  });

  test("nothing imports lib/runner but the runner itself and lib/mod.ts, which exports runMain", () => {
    const importers = files.filter((file) => localImports(file).some((target) => target.startsWith("lib/runner/")));
    expect(importers).toContain("lib/mod.ts");
    expect(importers.filter((file) => file !== "lib/mod.ts" && !file.startsWith("lib/runner/"))).toEqual([]);
  });
});
