/**
 * Two corrections to werift 0.25.2 that a server cannot do without, applied once per process. Both wrap a werift
 * method and keep its behaviour otherwise; the tests in test/integration/networkIsolation.test.ts and
 * connection.test.ts fail without them.
 */
import { Connection, UdpTransport } from "werift";
import { type Logger, silentLogger } from "../log/logger.ts";

let applied = false;
let logger: Logger = silentLogger;

/** Applies the patches (once); `log`, when given, receives what they report. */
export function applyWeriftPatches(log?: Logger): void {
  if (log) logger = log;
  if (applied) return;
  applied = true;
  keepConfiguredStunOnly();
  survivePortUnreachable();
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
