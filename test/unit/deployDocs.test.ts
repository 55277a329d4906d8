/**
 * The deployment recipes in docs/deploy cannot run here (no container engine), so what can drift is checked: every
 * setting they name exists, the files the compose file mounts exist, and the image takes the file scripts/build
 * writes. nginx's server block is run for real by the cluster's browser test.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { settings } from "../../lib/config/layers.ts";
import { repoRoot } from "../../scripts/support/paths.ts";

const deployDir = `${repoRoot}docs/deploy/`;
const read = (file: string) => readFileSync(deployDir + file, "utf8");

describe("docs/deploy", () => {
  test("every SMALLWEBRTC_ variable the recipes and the guide set is a setting", () => {
    const known = new Set(settings().map((setting) => setting.env));
    const named = ["compose.yaml", "README.md"].flatMap((file) => [...read(file).matchAll(/SMALLWEBRTC_[A-Z0-9_]+/g)])
      .map(([name]) => name);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });

  test("the compose file parses, and mounts files that exist", () => {
    const compose = Bun.YAML.parse(read("compose.yaml")) as {
      services: Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(["instance-1", "instance-2", "nginx", "redis"]);
    const mounted = Object.values(compose.services).flatMap((service) => service.volumes ?? [])
      .map((volume) => volume.split(":")[0]);
    expect(mounted.length).toBe(2);
    for (const file of mounted) expect(existsSync(deployDir + file)).toBe(true);
    // Each instance advertises itself under the name compose gives it, and the upstream names the same.
    const upstream = read("nginx/upstream.conf");
    for (const name of ["instance-1", "instance-2"]) {
      expect(compose.services[name].environment?.SMALLWEBRTC_CLUSTER_ADVERTISE_URL).toBe(`http://${name}:7860`);
      expect(upstream).toContain(`server ${name}:7860`);
    }
  });

  test("the image copies the binary scripts/build writes", () => {
    const binary = read("Containerfile").match(/^ARG BINARY=(\S+)$/m)?.[1];
    expect(binary).toBe("dist/smallwebrtc-linux-x64");
    expect(readFileSync(`${repoRoot}scripts/build`, "utf8")).toContain("dist/smallwebrtc-linux-x64");
  });
});
