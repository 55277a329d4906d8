/**
 * Serves a fetch handler with the runtime's own HTTP server (Bun.serve or Deno.serve), so the same code runs under
 * `bun`, `deno` and inside the compiled binary without an adapter package. The runtimes are reached through
 * `globalThis` with the few members used here typed locally, so that this file type-checks under both.
 */
export type FetchHandler = (request: Request, info: { remoteAddress?: string }) => Response | Promise<Response>;

export interface ListenOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
}

export interface Listener {
  hostname: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

interface BunRuntime {
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    fetch(request: Request, server: { requestIP(request: Request): { address: string } | null }): Response | Promise<Response>;
  }): { port?: number; stop(closeActiveConnections?: boolean): Promise<void> };
}

interface DenoRuntime {
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen?: (addr: { hostname: string; port: number }) => void;
    },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
}

const runtimes = globalThis as { Bun?: BunRuntime; Deno?: DenoRuntime };

export async function listen(fetch: FetchHandler, options: ListenOptions): Promise<Listener> {
  const scheme = options.tls ? "https" : "http";
  const describe = (port: number, stop: () => Promise<void>): Listener => ({
    hostname: options.hostname,
    port,
    url: `${scheme}://${urlHost(options.hostname)}:${port}`,
    stop,
  });

  if (runtimes.Bun) {
    const server = runtimes.Bun.serve({
      hostname: options.hostname,
      port: options.port,
      ...(options.tls ? { tls: options.tls } : {}),
      fetch: (request, srv) => fetch(request, { remoteAddress: srv.requestIP(request)?.address }),
    });
    return describe(server.port!, () => server.stop(true));
  }
  if (runtimes.Deno) {
    const bound = Promise.withResolvers<number>();
    const server = runtimes.Deno.serve(
      { hostname: options.hostname, port: options.port, ...options.tls, onListen: (addr) => bound.resolve(addr.port) },
      (request, info) => fetch(request, { remoteAddress: info.remoteAddr.hostname }),
    );
    return describe(await bound.promise, () => server.shutdown());
  }
  throw new Error("smallwebrtc needs Bun or Deno to serve HTTP");
}

function urlHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
