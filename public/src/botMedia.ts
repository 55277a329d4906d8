// Plays what the bot sends. Chromium decodes remote audio only while something plays it, so the <audio> element is
// also what lets the output level meter see samples.

export interface BotMediaElements {
  audio: HTMLAudioElement;
  video: HTMLVideoElement;
  /** Gets the class `has-video` while bot video frames arrive. */
  screen: HTMLElement;
}

export class BotMedia {
  constructor(private readonly elements: BotMediaElements,
    private readonly onAudioTrack: (track: MediaStreamTrack | null) => void) {}

  /** Plays the bot tracks `pc` receives (bot audio on transceiver 0, video on 1; docs/protocol.md §2.2). */
  follow(pc: RTCPeerConnection): void {
    pc.addEventListener("track", ({ track }) => {
      if (track.kind === "audio") {
        this.elements.audio.srcObject = new MediaStream([track]);
        this.onAudioTrack(track);
      } else {
        this.elements.video.srcObject = new MediaStream([track]);
        // A video track exists from the first offer on, but stays muted until the bot actually sends frames.
        const showing = () => this.elements.screen.classList.toggle("has-video", !track.muted);
        track.addEventListener("mute", showing);
        track.addEventListener("unmute", showing);
        showing();
      }
    });
  }

  clear(): void {
    this.elements.audio.srcObject = null;
    this.elements.video.srcObject = null;
    this.elements.screen.classList.remove("has-video");
    this.onAudioTrack(null);
  }
}
