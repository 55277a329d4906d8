// The user's own media as the client reports it: the camera goes to the preview, the microphone to the input meter,
// whose tooltip names the device it measures.
import { type Participant, type PipecatClient, RTVIEvent } from "@pipecat-ai/client-js";
import type { LevelMeter } from "./levelMeter.ts";

export interface LocalMediaView {
  preview: HTMLVideoElement;
  meter: LevelMeter;
  meterElement: HTMLElement;
}

export function showLocalMedia(client: PipecatClient, { preview, meter, meterElement }: LocalMediaView): void {
  client.on(RTVIEvent.TrackStarted, (track: MediaStreamTrack, participant?: Participant) => {
    if (!participant?.local) return;
    if (track.kind === "audio") {
      meter.follow(track);
      meterElement.title = track.label;
      return;
    }
    preview.srcObject = new MediaStream([track]);
    preview.hidden = false;
  });
  client.on(RTVIEvent.TrackStopped, (track: MediaStreamTrack, participant?: Participant) => {
    if (!participant?.local) return;
    if (track.kind === "video") {
      preview.srcObject = null;
      preview.hidden = true;
    } else if (track.readyState === "ended") {
      // A muted mic stays on the meter, which then honestly reads silence; a released one is let go.
      meter.follow(null);
      meterElement.title = "";
    }
  });
}
