/**
 * Changes to werift 0.25.2, applied once per process. Each wraps one werift method and keeps its behaviour otherwise:
 * two corrections a server cannot do without (tests in networkIsolation.test.ts and connection.test.ts fail without
 * them), and the hook that puts single-port mode's virtual sockets under werift's ICE.
 */
import { Connection, UdpTransport } from "werift";
import { type Logger, silentLogger } from "../log/logger.ts";
import { currentUdpMux } from "./udpMux.ts";

let applied = false;
let logger: Logger = silentLogger;

/** Applies the patches (once); `log`, when given, receives what they report. */
export function applyWeriftPatches(log?: Logger): void {
  if (log) logger = log;
  if (applied) return;
  applied = true;
  keepConfiguredStunOnly();
  survivePortUnreachable();
  useUdpMuxWhenAsked();
}

/**
 * werift queries stun.l.google.com:19302 whenever no STUN server is configured (ice.js DEFAULT_STUN_SERVER). That
 * leaks a DNS lookup and a packet to an address the user never chose, and stalls gathering where DNS hangs. With no
 * STUN server configured, no server-reflexive gathering happens at all.
 */
function keepConfiguredStunOnly(): void {
  const prototype = Connection.prototype as unknown as { applyStunTurnServersFromOptions(this: StunFields): void };
  const original = prototype.applyStunTurnServersFromOptions;
  prototype.applyStunTurnServersFromOptions = function (this: StunFields) {
    original.call(this);
    if (!this.options.stunServer) this.stunServer = undefined;
  };
}

interface StunFields {
  options: { stunServer?: unknown };
  stunServer?: unknown;
}

/**
 * werift's UDP sockets have no "error" listener. Under Bun an ICMP port-unreachable from a client that went away
 * surfaces as an "error" event (recvmsg ECONNREFUSED), and an unhandled one kills the process: every session with it.
 * Such errors are harmless for an ICE socket, so they are logged and the socket keeps serving.
 */
function survivePortUnreachable(): void {
  const prototype = UdpTransport.prototype as unknown as { init(this: { socket: SocketLike }): Promise<void> };
  const original = prototype.init;
  prototype.init = function (this: { socket: SocketLike }) {
    this.socket.on("error", (error: Error) => logger.debug("UDP socket error ignored", { error: error.message }));
    return original.call(this);
  };
}

interface SocketLike {
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * In single-port mode (udpMux.ts) a candidate's socket is a virtual transport on the shared port. Only gathering
 * that runs inside `withUdpMux` is affected; every other peer connection binds its own sockets as usual.
 */
function useUdpMuxWhenAsked(): void {
  const transportClass = UdpTransport as unknown as { init(...args: unknown[]): Promise<unknown> };
  const original = transportClass.init.bind(transportClass);
  transportClass.init = (...args: unknown[]) => {
    const mux = currentUdpMux();
    return mux ? Promise.resolve(mux.createTransport()) : original(...args);
  };
}
