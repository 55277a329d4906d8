// Condenses RTCPeerConnection.getStats() into the numbers e2e tests assert on.
// Audio energy only moves when the remote track plays in an unmuted <audio>.
import type { MediaStats } from "../support/probeTypes.ts";

type Stat = Record<string, unknown> & { type: string; id: string };

export async function mediaStats(pc: RTCPeerConnection): Promise<MediaStats> {
  const report = await pc.getStats();
  const all = [...report.values()] as Stat[];
  const byId = new Map(all.map((s) => [s.id, s]));
  const rtp = (type: string, kind: string) => all.filter((s) => s.type === type && s.kind === kind);
  const codec = (stats: Stat[]) => {
    const id = stats.find((s) => typeof s.codecId === "string")?.codecId as string | undefined;
    const mime = id ? byId.get(id)?.mimeType : undefined;
    return typeof mime === "string" ? mime.split("/")[1] ?? mime : null;
  };

  const audioIn = rtp("inbound-rtp", "audio");
  const audioOut = rtp("outbound-rtp", "audio");
  const videoIn = rtp("inbound-rtp", "video");
  const videoOut = rtp("outbound-rtp", "video");
  const channels = all.filter((s) => s.type === "data-channel");

  return {
    audioIn: {
      packetsReceived: sum(audioIn, "packetsReceived"),
      bytesReceived: sum(audioIn, "bytesReceived"),
      totalAudioEnergy: sum(audioIn, "totalAudioEnergy"),
      audioLevel: max(audioIn, "audioLevel"),
      totalSamplesReceived: sum(audioIn, "totalSamplesReceived"),
      codec: codec(audioIn),
    },
    audioOut: { packetsSent: sum(audioOut, "packetsSent"), codec: codec(audioOut) },
    videoIn: {
      packetsReceived: sum(videoIn, "packetsReceived"),
      framesDecoded: sum(videoIn, "framesDecoded"),
      frameWidth: max(videoIn, "frameWidth"),
      frameHeight: max(videoIn, "frameHeight"),
      codec: codec(videoIn),
    },
    videoOut: { packetsSent: sum(videoOut, "packetsSent"), framesEncoded: sum(videoOut, "framesEncoded"),
      codec: codec(videoOut) },
    selectedPair: selectedPair(all, byId),
    dataChannel: { messagesSent: sum(channels, "messagesSent"), messagesReceived: sum(channels, "messagesReceived") },
  };
}

function selectedPair(all: Stat[], byId: Map<string, Stat>): string | null {
  const transport = all.find((s) => s.type === "transport" && typeof s.selectedCandidatePairId === "string");
  const pair = transport ? byId.get(transport.selectedCandidatePairId as string) : undefined;
  if (!pair) return null;
  const end = (id: unknown) => {
    const c = byId.get(id as string);
    // A relay candidate names how it reaches its TURN server: "relay/tls".
    return c ? `${c.address}:${c.port} ${c.candidateType}${c.relayProtocol ? `/${c.relayProtocol}` : ""}` : "?";
  };
  const protocol = byId.get(pair.localCandidateId as string)?.protocol ?? "?";
  return `${protocol} ${end(pair.localCandidateId)} <-> ${end(pair.remoteCandidateId)}`;
}

function sum(stats: Stat[], key: string): number {
  return stats.reduce((total, s) => total + (typeof s[key] === "number" ? (s[key] as number) : 0), 0);
}

function max(stats: Stat[], key: string): number {
  return stats.reduce((best, s) => Math.max(best, typeof s[key] === "number" ? (s[key] as number) : 0), 0);
}
