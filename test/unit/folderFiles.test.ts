/**
 * `--folder DIR` serves `/files/*` from DIR and nothing outside it: encoded `..` and `/`, absolute paths, NUL bytes
 * and symlinks to outside are refused with a JSON 4xx, in-process and over a real socket (raw request lines).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A served folder beside a secret that must stay unreachable, with symlinks inside pointing both ways. */
function layout() {
  const base = mkdtempSync(join(tmpdir(), "swrtc-folder-"));
  const folder = join(base, "served");
  mkdirSync(join(folder, "nested"), { recursive: true });
  writeFileSync(join(folder, "nested", "take.txt"), "inside");
  writeFileSync(join(base, "secret.txt"), "SECRET");
  symlinkSync(join(base, "secret.txt"), join(folder, "leak.txt"));
  symlinkSync(base, join(folder, "up"));
  symlinkSync(join(folder, "nested", "take.txt"), join(folder, "alias.txt"));
  return { base, folder };
}

async function expectRefused(path: string, status: number) {
  const response = await server!.request(path);
  expect({ path, status: response.status }).toEqual({ path, status });
  expect(response.headers.get("content-type")).toStartWith("application/json");
  const body = await response.text();
  expect(typeof JSON.parse(body).detail).toBe("string");
  expect(body).not.toContain("SECRET");
}

/** One raw request line over a socket, so that no client-side URL parser tidies the path first. */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    let reply = "";
    socket.on("data", (chunk) => (reply += chunk.toString()));
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

describe("/files/* with folder", () => {
  test("serves files inside the folder, through an inside symlink too; a missing file is a JSON 404", async () => {
    const { folder } = layout();
    server = startTestServer({ folder });
    const response = await server.request("/files/nested/take.txt");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(await response.text()).toBe("inside");
    expect(await (await server.request("/files/alias.txt")).text()).toBe("inside");
    await expectRefused("/files/nested/none.txt", 404);
    await expectRefused("/files/nested", 404);
  });

  test("encoded ../, absolute paths and NUL bytes are a 400; symlinks to outside are a 403", async () => {
    const { base, folder } = layout();
    server = startTestServer({ folder });
    // Positive control: the secret is a real, readable file.
    expect(await Bun.file(join(base, "secret.txt")).text()).toBe("SECRET");
    for (const path of [
      "/files/%2e%2e%2fsecret.txt",
      "/files/%2E%2E%2Fsecret.txt",
      "/files/nested/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/files/..%2fsecret.txt",
      "/files/..%5csecret.txt",
      "/files/%2F" + base.slice(1).replaceAll("/", "%2F") + "%2Fsecret.txt",
      "/files//" + base.slice(1) + "/secret.txt",
      "/files/nested/take.txt%00",
      "/files/%E0%A4%A",
    ]) {
      await expectRefused(path, 400);
    }
    await expectRefused("/files/leak.txt", 403);
    await expectRefused("/files/up/secret.txt", 403);
  });

  test("raw request lines with ../ never reach outside the folder", async () => {
    const { folder } = layout();
    server = startTestServer({ folder });
    const { url } = await server.server.listen();
    const port = Number(new URL(url).port);
    // Positive control over the same socket path: a file inside comes back.
    expect(await rawGet(port, "/files/nested/take.txt")).toContain("inside");
    for (const path of ["/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/nested/../../secret.txt", "/files/%2e%2e%2fsecret.txt"]) {
      const reply = await rawGet(port, path);
      expect(reply).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(reply).not.toContain("SECRET");
    }
  });

  test("without folder there is no /files route; with auth configured it needs the token", async () => {
    const { folder } = layout();
    server = startTestServer();
    await expectRefused("/files/nested/take.txt", 404);
    await server.close();
    server = startTestServer({ folder, auth: { token: "t0ken-for-tests-only" } });
    await expectRefused("/files/nested/take.txt", 401);
    const response = await server.request("/files/nested/take.txt", { headers: { Authorization: "Bearer t0ken-for-tests-only" } });
    expect(await response.text()).toBe("inside");
  });

  test("a folder that is not a directory stops the server at start-up with one line, exit code 2", () => {
    const missing = join(mkdtempSync(join(tmpdir(), "swrtc-folder-")), "missing");
    const result = Bun.spawnSync([process.execPath, join(repoRoot, "main.ts"), "--port", "0", "--folder", missing], {
      timeout: 20_000,
    });
    expect(result.stderr.toString().trim().split("\n")).toEqual([`smallwebrtc: folder: ${missing} is not a readable directory`]);
    expect(result.exitCode).toBe(2);
  });
});
