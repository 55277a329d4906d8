/**
 * A real nginx (Debian's) in front of smallwebrtc instances, run with the deployment guide's own server block
 * (docs/deploy/nginx/smallwebrtc.conf) and an upstream of the given instances, round robin. Its access log records
 * which instance took each request, which is how tests prove that requests of one session landed on different
 * instances.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { repoRoot } from "../../scripts/support/paths.ts";
import { eventually } from "./eventually.ts";

/** The guide's server block, included unchanged. It listens on port 80, which the test's own namespace has free. */
export const NGINX_SERVER_BLOCK = `${repoRoot}docs/deploy/nginx/smallwebrtc.conf`;

/** One request as nginx logged it: the instance (host:port) that answered it, and its status. */
export interface ProxiedRequest {
  method: string;
  path: string;
  status: number;
  upstream: string;
  /** Every instance tried, in order: more than one when an instance refused the connection. */
  tried: string[];
}

export interface Nginx {
  url: string;
  /** Every request logged so far, in order. */
  requests(): ProxiedRequest[];
  /** nginx's error log, for failure messages. */
  errors(): string;
  stop(): Promise<void>;
}

/** Starts nginx balancing over `upstreams` (host:port each) and resolves once it answers. */
export async function startNginx(upstreams: readonly string[]): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), "swrtc-nginx-"));
  for (const temp of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, temp));
  const accessLog = join(dir, "access.log");
  const errorLog = join(dir, "error.log");
  writeFileSync(accessLog, "");
  writeFileSync(join(dir, "nginx.conf"), `
daemon off;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${errorLog} info;
events { worker_connections 512; }
http {
  log_format upstreams '$request_method|$uri|$status|$upstream_addr';
  access_log ${accessLog} upstreams;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream smallwebrtc {
${upstreams.map((address) => `    server ${address} max_fails=1 fail_timeout=10s;`).join("\n")}
  }
  include ${NGINX_SERVER_BLOCK};
}
`);
  const child: Subprocess<"ignore", "pipe", "pipe"> = spawn(["nginx", "-p", dir, "-c", join(dir, "nginx.conf")], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const errors = () => readFileSync(errorLog, "utf8");
  const url = "http://127.0.0.1:80";
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${errors()}`);
      return await fetch(`${url}/nginx-probe`).then(() => true, () => false);
    }, 10_000, "nginx to listen");
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    requests: () =>
      readFileSync(accessLog, "utf8").split("\n").filter(Boolean).map((line) => {
        const [method, path, status, addresses] = line.split("|");
        const tried = addresses.split(", ");
        return { method, path, status: Number(status), upstream: tried.at(-1)!, tried };
      }),
    errors,
    stop: async () => {
      child.kill("SIGQUIT");
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
