// One tile per connection metric: its latest value and a sparkline of the last minute (one sample a second), plus
// the codecs this page sends.
import { Sparkline } from "./sparkline.ts";
import type { StatsSample } from "./statsSampler.ts";

type Metric = "rttMs" | "jitterMs" | "lossPercent" | "inKbps" | "outKbps";

/** `scale`: the least a plot's full height stands for. */
const METRICS: { key: Metric; label: string; unit: string; digits: number; scale: number }[] = [
  { key: "rttMs", label: "RTT", unit: "ms", digits: 1, scale: 20 },
  { key: "jitterMs", label: "Jitter", unit: "ms", digits: 1, scale: 10 },
  { key: "lossPercent", label: "Loss", unit: "%", digits: 1, scale: 5 },
  { key: "inKbps", label: "In", unit: "kbit/s", digits: 0, scale: 64 },
  { key: "outKbps", label: "Out", unit: "kbit/s", digits: 0, scale: 64 },
];

interface Tile {
  output: HTMLOutputElement;
  plot: Sparkline;
}

export class StatsPanel {
  private readonly tiles = new Map<Metric, Tile>();

  constructor(container: HTMLElement, private readonly codecs: HTMLElement) {
    for (const { key, label, scale } of METRICS) {
      const caption = document.createElement("figcaption");
      caption.textContent = label;
      const output = document.createElement("output");
      const canvas = document.createElement("canvas");
      const tile = document.createElement("figure");
      tile.className = "stat";
      tile.dataset.metric = key;
      tile.append(caption, output, canvas);
      container.append(tile);
      this.tiles.set(key, { output, plot: new Sparkline(canvas, scale) });
    }
    this.clear();
  }

  show(sample: StatsSample): void {
    for (const { key, unit, digits } of METRICS) {
      const tile = this.tiles.get(key)!;
      const value = sample[key];
      tile.output.textContent = value === null ? "–" : `${value.toFixed(digits)} ${unit}`;
      tile.plot.push(value);
    }
    const sent = [["audio", sample.audioCodec], ["video", sample.videoCodec]].filter(([, codec]) => codec);
    this.codecs.textContent = sent.map(([kind, codec]) => `${kind} ${codec}`).join(" · ");
  }

  clear(): void {
    for (const { output, plot } of this.tiles.values()) {
      output.textContent = "–";
      plot.clear();
    }
    this.codecs.textContent = "";
  }
}
