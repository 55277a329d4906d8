/**
 * The ports every session of a process shares: single-port UDP mode (udpMux.ts) and ICE over TCP (tcpMux.ts). Each
 * is optional; without either, werift binds sockets of its own for every session.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { RTCIceTransport } from "werift";
import type { TcpMux } from "./tcpMux.ts";
import { type UdpMux, VirtualUdpTransport } from "./udpMux.ts";

export interface SharedPorts {
  udp?: UdpMux;
  tcp?: TcpMux;
}

const context = new AsyncLocalStorage<SharedPorts>();

/** Runs `work` (setRemoteDescription, setLocalDescription) so that the candidates it gathers use the shared ports. */
export function withSharedPorts<T>(ports: SharedPorts, work: () => Promise<T>): Promise<T> {
  return context.run(ports, work);
}

/** Runs `work` outside any shared ports: the sockets it binds synchronously are real ones. */
export function withoutSharedPorts<T>(work: () => T): T {
  return context.exit(work);
}

/** The shared ports of the gathering in progress, if any (read by the werift patches). */
export function currentSharedPorts(): SharedPorts | undefined {
  return context.getStore();
}

/** Tells the shared ports which session each of our ICE usernames belongs to (they change on ICE restart). */
export function assignUfrags(ports: SharedPorts, iceTransports: readonly RTCIceTransport[]): void {
  for (const { connection } of iceTransports) {
    // werift's IceConnection interface does not list the protocols its Connection class keeps.
    const protocols = (connection as unknown as { protocols: object[] }).protocols;
    for (const protocol of protocols) {
      const { transport } = protocol as { transport?: unknown };
      if (transport instanceof VirtualUdpTransport) ports.udp?.assign(connection.localUsername, transport);
      else if (ports.tcp?.owns(protocol as never)) ports.tcp.assign(connection.localUsername, protocol as never);
    }
  }
}
