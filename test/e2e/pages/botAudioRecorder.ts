// Records what Chromium plays of the bot's audio, after its jitter buffer and decoder: the remote track through
// WebAudio, at 16 kHz mono. Chromium feeds a remote track to WebAudio only while a media element plays it too, which
// the probe does for every remote track.

export const RECORDING_RATE = 16000;

export class BotAudioRecorder {
  readonly #context = new AudioContext({ sampleRate: RECORDING_RATE });
  readonly #chunks: Float32Array[] = [];
  #length = 0;

  constructor(track: MediaStreamTrack) {
    const source = this.#context.createMediaStreamSource(new MediaStream([track]));
    // A ScriptProcessorNode, unlike an AudioWorklet, needs no module served to the page; its output stays silent.
    const tap = this.#context.createScriptProcessor(4096, 1, 1);
    tap.onaudioprocess = (event) => {
      const chunk = event.inputBuffer.getChannelData(0).slice();
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    };
    source.connect(tap);
    tap.connect(this.#context.destination);
  }

  /** Everything recorded so far, as base64 of little-endian 16-bit PCM at RECORDING_RATE. */
  recorded(): string {
    const pcm = new Int16Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.length; i++) pcm[offset + i] = Math.max(-32768, Math.min(32767, chunk[i] * 32768));
      offset += chunk.length;
    }
    let binary = "";
    const bytes = new Uint8Array(pcm.buffer);
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  }

  close(): void {
    void this.#context.close();
  }
}
