/** The peer-connection settings of one offer, derived from the config. */
import type { Config } from "../config/schema.ts";
import { resolveIceServers } from "../config/turnCredentials.ts";
import type { Logger } from "../log/logger.ts";
import type { ConnectionOptions } from "../webrtc/connection.ts";
import { addAdvertisedCandidates, parseAdvertisedIps } from "../webrtc/advertisedAddresses.ts";
import { selectHostAddresses } from "../webrtc/hostAddresses.ts";
import { isLibpeerOffer, shapeAnswerForLibpeer } from "../webrtc/esp32.ts";
import type { SharedPorts } from "../webrtc/sharedPorts.ts";
import { peerConfig, SCTP_SINGLE_CHUNK_BYTES } from "../webrtc/peerConfig.ts";

/** How to build a connection for this offer; devices in ESP32 mode get libpeer-shaped answers. */
export function connectionOptions(
  config: Config,
  logger: Logger,
  offerSdp: string,
  sharedPorts: SharedPorts = {},
): ConnectionOptions {
  const esp32 = config.esp32 && isLibpeerOffer(offerSdp);
  const advertised = parseAdvertisedIps(config.ice.advertisedIps);
  return {
    peerConfig: () =>
      peerConfig({
        iceServers: resolveIceServers(config),
        stunGatherTimeoutSecs: 2,
        bindHost: config.host,
        ...config.ice,
        // libpeer reads UDP candidates only (esp32.ts), so devices are offered no TCP ones.
        tcp: sharedPorts.tcp !== undefined && !esp32,
        // A device can only use candidates on the address it was configured with: gather nothing else.
        ...(esp32 ? { interfaces: [config.host], loopback: "never" as const } : {}),
      }),
    shapeAnswer: esp32
      ? (sdp) => shapeAnswerForLibpeer(sdp, config.host, advertised)
      : (sdp) => addAdvertisedCandidates(sdp, advertised),
    sharedPorts: esp32 ? { udp: sharedPorts.udp } : sharedPorts,
    candidatePolicy: {
      allowSpecial: config.ice.allowSpecialCandidates,
      allowLoopback: selectHostAddresses({ bindHost: config.host, ...config.ice }).includes("127.0.0.1"),
    },
    maxRemoteCandidates: config.limits.maxRemoteCandidates,
    logger,
    connectTimeoutMs: config.limits.connectTimeoutSecs * 1000,
    liveness: {
      pingTimeoutMs: config.limits.keepaliveTimeoutSecs * 1000,
      silenceTimeoutMs: config.limits.silenceTimeoutSecs * 1000,
    },
    dataChannelTimeoutMs: config.limits.dataChannelTimeoutSecs * 1000,
    maxQueuedMessages: config.limits.queuedMessages,
    // libpeer reads one DATA chunk per packet and never reassembles: a message must fit in one chunk.
    maxMessageBytes: esp32 ? SCTP_SINGLE_CHUNK_BYTES : undefined,
  };
}
