/**
 * werift peer options built from our config. This is the one place where werift's non-standard knobs are set
 * (the equivalent of pion's SettingEngine): candidate addresses, STUN/TURN, timeouts and codecs.
 */
import { Connection, type PeerConfig, useH264, useOPUS, usePCMA, usePCMU, useSdesMid, useVP8 } from "werift";
import type { IceServer } from "../config/iceServers.ts";
import { type HostAddressOptions, selectHostAddresses } from "./hostAddresses.ts";

export interface PeerOptions extends HostAddressOptions {
  iceServers: IceServer[];
  /** Seconds to wait for server-reflexive candidates when a STUN server is configured. */
  stunGatherTimeoutSecs: number;
}

/**
 * SCTP payload MTU. Pipecat clamps DATA chunks to 1100 bytes because larger datagrams silently stall on 1280-MTU
 * paths (Tailscale, IPv6 tunnels, VPNs); werift's own default (1191) is right at that edge.
 */
const SCTP_MTU = 1100;

export function peerConfig(options: PeerOptions): Partial<PeerConfig> {
  guardDefaultStun();
  return {
    iceServers: options.iceServers,
    // werift's address discovery skips loopback and knows no interface names, so the exact list comes from us.
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: selectHostAddresses(options),
    iceStunGatherTimeout: options.stunGatherTimeoutSecs,
    codecs: {
      audio: [useOPUS(), usePCMU(), usePCMA()],
      video: [useVP8(), useH264()],
    },
    headerExtensions: { audio: [useSdesMid()], video: [useSdesMid()] },
    sctp: { mtu: SCTP_MTU },
  };
}

let guarded = false;

/**
 * werift queries stun.l.google.com:19302 whenever no STUN server is configured (ice.js DEFAULT_STUN_SERVER), which
 * leaks a DNS lookup and a packet to an address the user never chose, and stalls gathering where DNS hangs. Keep
 * the configured server only: with none, no server-reflexive gathering happens at all.
 */
function guardDefaultStun(): void {
  if (guarded) return;
  guarded = true;
  const prototype = Connection.prototype as unknown as {
    applyStunTurnServersFromOptions(this: StunFields): void;
  };
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
