// The smallwebrtc test client. Every panel is its own module; this file builds them and ties them to the call.
import { RTVIEvent, type TransportState } from "@pipecat-ai/client-js";
import { BotMedia } from "./botMedia.ts";
import { Call, type CallOptions } from "./call.ts";
import { Conversation, showConversation } from "./conversation.ts";
import { bindDevices } from "./devices.ts";
import { LevelMeter } from "./levelMeter.ts";
import { showLocalMedia } from "./localMedia.ts";
import { bindMessageForm } from "./messageForm.ts";
import { logRtviEvents, MessageLog } from "./messageLog.ts";
import { onPeerConnection } from "./peerConnections.ts";
import { bindSayForm } from "./sayForm.ts";
import { watchServerStatus } from "./serverStatus.ts";
import { StatsPanel } from "./statsPanel.ts";
import { StatsSampler } from "./statsSampler.ts";
import { VoiceLatency } from "./voiceLatency.ts";

const STATS_INTERVAL_MS = 1000;

function byId<T extends HTMLElement>(id: string, type: abstract new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`#${id} is missing from index.html`);
  return element;
}

const conversation = new Conversation(byId("conversation", HTMLOListElement));
const latency = new VoiceLatency((ms) => conversation.voiceToVoice(ms));

// Starts suspended unless the browser allows autoplay; the Connect click resumes it.
const audioContext = new AudioContext();
const inputMeterElement = byId("meter-in", HTMLElement);
const inputMeter = new LevelMeter(inputMeterElement, audioContext, (rms, at) => latency.localLevel(rms, at));
const outputMeter = new LevelMeter(byId("meter-out", HTMLElement), audioContext,
  (rms, at) => latency.remoteLevel(rms, at));

// Before the client exists, so that no peer the transport creates goes unseen.
const botMedia = new BotMedia(
  { audio: byId("bot-audio", HTMLAudioElement), video: byId("bot-video", HTMLVideoElement), screen: byId("screen", HTMLElement) },
  (track) => outputMeter.follow(track),
);
onPeerConnection((pc) => botMedia.follow(pc));

const call = new Call();
const { client } = call;
const log = new MessageLog(byId("log", HTMLOListElement));
const messageForm = bindMessageForm(client, byId("message-form", HTMLFormElement), log);
const sayForm = bindSayForm(client, byId("say-form", HTMLFormElement), conversation, log);
const stats = new StatsPanel(byId("stats", HTMLElement), byId("codecs", HTMLElement));
const sampler = new StatsSampler();
const refreshServerStatus = watchServerStatus(byId("server-status", HTMLElement), new URL("../status", location.href));
showLocalMedia(client, { preview: byId("local-video", HTMLVideoElement), meter: inputMeter, meterElement: inputMeterElement });
logRtviEvents(client, log);
showConversation(client, conversation);
client.on(RTVIEvent.UserStartedSpeaking, () => latency.userStartedSpeaking());
client.on(RTVIEvent.UserStoppedSpeaking, () => latency.userStoppedSpeaking());
bindDevices(client, {
  micSelect: byId("mic-select", HTMLSelectElement),
  camSelect: byId("cam-select", HTMLSelectElement),
  micToggle: byId("mic-toggle", HTMLButtonElement),
  camToggle: byId("cam-toggle", HTMLButtonElement),
});

const stateBadge = byId("state", HTMLElement);
const connectButton = byId("connect", HTMLButtonElement);
const flow = byId("flow", HTMLSelectElement);
const audioCodec = byId("audio-codec", HTMLSelectElement);
const videoCodec = byId("video-codec", HTMLSelectElement);
let statsTimer: ReturnType<typeof setInterval> | undefined;

const isIdle = (state: TransportState) => state === "disconnected" || state === "error";

client.on(RTVIEvent.TransportStateChanged, (state: TransportState) => {
  stateBadge.dataset.state = state;
  stateBadge.textContent = state;
  log.add("state", state);
  const idle = isIdle(state);
  connectButton.textContent = idle ? "Connect" : "Disconnect";
  connectButton.classList.toggle("danger", !idle);
  // Flow and codecs shape the offer, so they only change between calls.
  for (const select of [flow, audioCodec, videoCodec]) select.disabled = !idle;
  messageForm.setEnabled(state === "ready");
  sayForm.setEnabled(state === "ready");
  if (state === "connected") statsTimer ??= setInterval(sampleStats, STATS_INTERVAL_MS);
  if (idle) {
    clearInterval(statsTimer);
    statsTimer = undefined;
    botMedia.clear();
  }
  refreshServerStatus();
});

connectButton.addEventListener("click", async () => {
  if (!isIdle(client.state)) return void client.disconnect();
  void audioContext.resume();
  stats.clear();
  conversation.clear();
  latency.reset();
  const options: CallOptions = {
    flow: flow.value as CallOptions["flow"],
    audioCodec: audioCodec.value,
    videoCodec: videoCodec.value,
  };
  try {
    await call.connect(options);
  } catch (error) {
    log.addError("connect failed", error);
  }
});

// Closing the tab ends the call at once, instead of leaving the server to notice the silence.
addEventListener("pagehide", () => void client.disconnect());

async function sampleStats(): Promise<void> {
  const pc = call.pc;
  if (pc) stats.show(await sampler.sample(pc));
}
