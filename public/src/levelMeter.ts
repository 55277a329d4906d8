// A live level bar for one audio track, fed by an AnalyserNode. The bar is on a dB scale: speech has a linear RMS of
// only 0.05-0.2, which would barely move a linear bar.

const FLOOR_DB = -60;
/** Per-frame decay: the bar jumps up at once and falls back slowly, so short peaks stay readable. */
const FALL = 0.92;

export class LevelMeter {
  private readonly analyser: AnalyserNode;
  private readonly samples: Float32Array<ArrayBuffer>;
  private source: MediaStreamAudioSourceNode | null = null;
  private level = 0;
  private frame = 0;

  /** `onLevel` gets every raw reading (linear RMS of the last 1024 samples), one per animation frame. */
  constructor(private readonly element: HTMLElement, private readonly context: AudioContext,
    private readonly onLevel?: (rms: number, at: number) => void) {
    this.analyser = new AnalyserNode(context, { fftSize: 1024 });
    this.samples = new Float32Array(this.analyser.fftSize);
  }

  /** Measures `track` from now on; null stops and empties the bar. */
  follow(track: MediaStreamTrack | null): void {
    this.source?.disconnect();
    this.source = track ? this.context.createMediaStreamSource(new MediaStream([track])) : null;
    this.source?.connect(this.analyser);
    cancelAnimationFrame(this.frame);
    if (this.source) this.frame = requestAnimationFrame(this.tick);
    else this.render(0);
  }

  private readonly tick = (at: number): void => {
    this.analyser.getFloatTimeDomainData(this.samples);
    let energy = 0;
    for (const sample of this.samples) energy += sample * sample;
    this.onLevel?.(Math.sqrt(energy / this.samples.length), at);
    const db = 10 * Math.log10(energy / this.samples.length || 1e-12);
    const level = Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
    this.level = Math.max(level, this.level * FALL);
    this.render(this.level);
    this.frame = requestAnimationFrame(this.tick);
  };

  private render(level: number): void {
    this.element.style.setProperty("--level", level.toFixed(3));
    this.element.setAttribute("aria-valuenow", level.toFixed(2));
  }
}
