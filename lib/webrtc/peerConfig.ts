/**
 * werift peer options built from our config. This is the one place where werift's non-standard knobs are set
 * (the equivalent of pion's SettingEngine): candidate addresses, STUN/TURN, timeouts and codecs.
 */
import { type PeerConfig, useH264, useOPUS, usePCMA, usePCMU, useSdesMid, useVP8 } from "werift";
import type { IceServer } from "../config/iceServers.ts";
import { type HostAddressOptions, selectHostAddresses } from "./hostAddresses.ts";
import { applyWeriftPatches } from "./weriftPatches.ts";

export interface PeerOptions extends HostAddressOptions {
  iceServers: IceServer[];
  /** UDP ports [first, last] to bind candidates in. */
  portRange?: [number, number];
  /** Seconds to wait for server-reflexive candidates when a STUN server is configured. */
  stunGatherTimeoutSecs: number;
  /** Gather passive ICE-TCP candidates (on the shared TCP port, tcpMux.ts). */
  tcp?: boolean;
}

/**
 * SCTP payload MTU. Pipecat clamps DATA chunks to 1100 bytes because larger datagrams silently stall on 1280-MTU
 * paths (Tailscale, IPv6 tunnels, VPNs); werift's own default (1191) is right at that edge.
 */
const SCTP_MTU = 1100;

/**
 * The largest message that travels as one unfragmented SCTP DATA chunk: the MTU less the common header (12 bytes)
 * and the DATA chunk header (16 bytes), RFC 4960 section 3. ESP32 devices (libpeer) cannot receive anything larger.
 */
export const SCTP_SINGLE_CHUNK_BYTES = SCTP_MTU - 12 - 16;

export function peerConfig(options: PeerOptions): Partial<PeerConfig> {
  applyWeriftPatches();
  return {
    iceServers: options.iceServers,
    // werift's address discovery skips loopback and knows no interface names, so the exact list comes from us.
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: selectHostAddresses(options),
    iceStunGatherTimeout: options.stunGatherTimeoutSecs,
    icePortRange: options.portRange,
    iceUseTcp: options.tcp ?? false,
    codecs: {
      audio: [useOPUS(), usePCMU(), usePCMA()],
      video: [useVP8(), useH264()],
    },
    headerExtensions: { audio: [useSdesMid()], video: [useSdesMid()] },
    sctp: { mtu: SCTP_MTU },
  };
}
