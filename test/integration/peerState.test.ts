/**
 * What a re-offer keeps and a `restart_pc` replaces (lib/webrtc/peer.ts): each test guards a defect where state
 * belonging to one peer connection outlived it, or state of the connection was reset by a re-offer. Two real werift
 * peers in one process, signalled through the HTTP routes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { OutputImageRawFrame } from "../../lib/pipeline/frames.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import type { SmallWebRTCConnection } from "../../lib/webrtc/connection.ts";
import type { ConnectionMedia } from "../../lib/webrtc/mediaPort.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
});

function client(options?: ConstructorParameters<typeof TestClient>[0]): TestClient {
  const created = new TestClient(options);
  clients.push(created);
  return created;
}

type AnswerBody = { sdp: string; type: "answer"; pc_id: string };

async function offerFrom(peer: TestClient, body: Record<string, unknown> = {}, extraCandidates: string[] = []) {
  const offer = await peer.offer();
  const sdp = withExtraCandidates(offer.sdp, extraCandidates);
  return await server.post("/api/offer", { ...offer, sdp, ...body });
}

async function connect(peer: TestClient, body: Record<string, unknown> = {}): Promise<AnswerBody> {
  const { status, body: answer } = await offerFrom(peer, body);
  expect(status).toBe(200);
  await peer.accept(answer);
  await peer.connected();
  return answer;
}

/** Adds candidate lines to the first media section (the bundle's transport). */
function withExtraCandidates(sdp: string, candidates: string[]): string {
  if (candidates.length === 0) return sdp;
  const [session, first, ...rest] = sdp.split(/\r\n(?=m=)/);
  return [session, [first, ...candidates.map((c) => `a=${c}`)].join("\r\n"), ...rest].join("\r\n");
}

/** A loopback host candidate on `port`: distinct per port, and harmless to check (nothing listens there). */
function loopbackCandidate(port: number): string {
  return `candidate:${port} 1 udp 2130706431 127.0.0.1 ${port} typ host`;
}

/** The SSRC the answer announces for its `index`-th media section. */
function answeredSsrc(sdp: string, index: number): number {
  const section = sdp.split(/\r\n(?=m=)/)[index + 1];
  return Number(section.match(/^a=ssrc:(\d+) /m)![1]);
}

describe("peer state across re-offers and restarts", () => {
  test("keyframe requests: one subscription for the session, however many restart_pc", async () => {
    let transport: SmallWebRTCTransport | undefined;
    server = startTestServer({}, async ({ webrtcConnection }: RunnerArguments) => {
      transport = new SmallWebRTCTransport(webrtcConnection, { videoOutEnabled: true, videoOutFramerate: 5 });
      const task = new PipelineTask(new Pipeline([transport.input(), transport.output()]));
      transport.on("clientConnected", () => {
        void task.queueFrame(new OutputImageRawFrame(new Uint8Array(64 * 48 * 3).fill(128), [64, 48]));
      });
      await task.run();
    });
    const connecting = server.nextConnection();
    let answer = await connect(client());
    const connection = await connecting;
    await eventually(() => transport?.media.videoSender !== undefined, 5000, "the bot's video sender");
    const listenersAtStart = (connection.media as ConnectionMedia).listenerCounts;

    for (let restart = 0; restart < 3; restart++) {
      answer = await connect(client(), { pc_id: answer.pc_id, restart_pc: true });
    }
    expect((connection.media as ConnectionMedia).listenerCounts).toEqual(listenersAtStart);

    const sender = transport!.media.videoSender!;
    let requests = 0;
    const requestKeyframe = sender.requestKeyframe.bind(sender);
    sender.requestKeyframe = () => {
      requests++;
      requestKeyframe();
    };
    // The newest client asks for a keyframe of the bot's camera stream: the request arrives, once.
    const newest = clients.at(-1)!;
    await newest.pc.getTransceivers()[1].receiver.sendRtcpPLI(answeredSsrc(answer.sdp, 1));
    await eventually(() => requests > 0, 5000, "the keyframe request");
    await newest.pc.getTransceivers()[1].receiver.sendRtcpPLI(answeredSsrc(answer.sdp, 1));
    await eventually(() => requests > 1, 5000, "the second keyframe request");
    expect(requests).toBe(2);
  });

  test("bot audio follows the codec a restart_pc negotiates", async () => {
    server = startTestServer();
    const first = client({ audioCodecs: ["OPUS"] });
    const initial = await connect(first);
    await eventually(() => first.audioIn.length >= 10, 5000, "Opus bot audio");
    expect(first.audioIn.every((rtp) => rtp.header.payloadType === 111 || rtp.header.payloadType > 95)).toBe(true);

    // The client comes back offering G.711 only: 160-byte PCMU packets every 20 ms, not Opus bytes labelled PCMU.
    const second = client({ audioCodecs: ["PCMU"] });
    await connect(second, { pc_id: initial.pc_id, restart_pc: true });
    await eventually(() => second.audioIn.length >= 25, 5000, "bot audio after the restart");
    const packets = second.audioIn.slice(0, 25);
    expect(packets.map((rtp) => rtp.header.payloadType)).toEqual(Array(25).fill(0));
    expect(packets.map((rtp) => rtp.payload.length)).toEqual(Array(25).fill(160));
  });

  test("the remote-candidate budget counts a peer connection's distinct candidates across re-offers", async () => {
    server = startTestServer({ limits: { maxRemoteCandidates: 10 } }, () => {});
    const peer = client();
    const extra = [loopbackCandidate(20001), loopbackCandidate(20002), loopbackCandidate(20003)];
    const { status, body: answer } = await offerFrom(peer, {}, extra);
    expect(status).toBe(200);
    await peer.accept(answer);
    const patch = (ports: number[]) =>
      server.post("/api/offer", {
        pc_id: answer.pc_id,
        candidates: ports.map((port) => ({ candidate: loopbackCandidate(port), sdp_mid: "0", sdp_mline_index: 0 })),
      }, "PATCH");
    const offered = (await peer.offer()).sdp.split("a=candidate:").length - 1 + extra.length;
    const trickled = Array.from({ length: 10 - offered - 1 }, (_, i) => 21001 + i);
    expect(trickled.length).toBeGreaterThan(0);
    expect((await patch(trickled)).status).toBe(200);

    // A re-offer repeating the same candidates adds none, and must not reset the count.
    const reoffer = await offerFrom(peer, { pc_id: answer.pc_id }, extra);
    expect(reoffer.status).toBe(200);
    await peer.accept(reoffer.body);
    expect(await patch([21001])).toMatchObject({ status: 200 }); // a repeat costs nothing
    expect(await patch([22001])).toMatchObject({ status: 200 }); // the tenth distinct candidate
    expect(await patch([22002])).toEqual({ status: 400, body: { detail: "candidate rejected: more than 10 candidates" } });
    // A re-offer that would bring the total over the budget is refused too.
    const over = await offerFrom(peer, { pc_id: answer.pc_id }, [...extra, loopbackCandidate(23001)]);
    expect(over.status).toBe(400);
    expect(over.body.detail).toContain("more than 10 candidates");
  });

  test("isAlive() follows limits.keepaliveTimeoutSecs", async () => {
    server = startTestServer({ limits: { keepaliveTimeoutSecs: 10 } }, () => {});
    const peer = client();
    const connecting = server.nextConnection();
    await connect(peer);
    const connection: SmallWebRTCConnection = await connecting;
    await peer.channelOpen();
    peer.send("ping");
    await eventually(() => connection.lastPingAt !== undefined, 5000, "the ping");
    const pingedAt = connection.lastPingAt!;
    expect(connection.isAlive(pingedAt + 5_000)).toBe(true);
    expect(connection.isAlive(pingedAt + 10_500)).toBe(false);
  });
});
