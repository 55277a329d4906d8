/**
 * What travels on the SmallWebRTC data channel (docs/protocol.md §3.1, §3.2): JSON text messages, `ping…` keep-alive
 * strings that are not JSON, and `{"type":"signalling","message":{...}}` envelopes for track status and
 * renegotiation. Everything else is an application message (RTVI lives there).
 */

export type InboundMessage =
  | { kind: "ping" }
  | { kind: "trackStatus"; receiverIndex: number; enabled: boolean }
  | { kind: "app"; message: unknown }
  | { kind: "invalid"; reason: string };

export type OutboundSignal = "renegotiate" | "peerLeft";

export function parseInbound(data: string | Uint8Array): InboundMessage {
  if (typeof data !== "string") return { kind: "invalid", reason: "binary message" };
  if (data.startsWith("ping")) return { kind: "ping" };
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return { kind: "invalid", reason: "not JSON" };
  }
  if (!isRecord(message)) return { kind: "invalid", reason: "not a JSON object" };
  if (message.type !== "signalling") return { kind: "app", message };

  const signal = message.message;
  if (!isRecord(signal)) return { kind: "invalid", reason: "signalling without a message object" };
  if (signal.type !== "trackStatus") return { kind: "invalid", reason: `unknown signalling type` };
  const { receiver_index: receiverIndex, enabled } = signal;
  if (!Number.isInteger(receiverIndex) || (receiverIndex as number) < 0 || typeof enabled !== "boolean") {
    return { kind: "invalid", reason: "trackStatus needs an integer receiver_index and a boolean enabled" };
  }
  return { kind: "trackStatus", receiverIndex: receiverIndex as number, enabled };
}

export function signallingMessage(type: OutboundSignal): string {
  return JSON.stringify({ type: "signalling", message: { type } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
