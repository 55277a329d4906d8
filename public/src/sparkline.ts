// A small plot of the last `capacity` samples on a canvas, newest at the right, scaled to its own maximum but never
// below `minScale`, so that noise (0.1 % loss, 1 ms of jitter) stays a ripple instead of filling the plot. Missing
// samples (null) leave a gap. Colours come from CSS (`color` of the canvas), so dark and light themes both work.

export class Sparkline {
  private readonly values: (number | null)[] = [];

  constructor(private readonly canvas: HTMLCanvasElement, private readonly minScale: number,
    private readonly capacity = 60) {}

  push(value: number | null): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
    this.draw();
  }

  clear(): void {
    this.values.length = 0;
    this.draw();
  }

  private draw(): void {
    const { canvas, values, capacity, minScale } = this;
    const ratio = devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio);
    const height = Math.round(canvas.clientHeight * ratio);
    if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
    const g = canvas.getContext("2d");
    if (!g || width === 0) return;
    g.clearRect(0, 0, width, height);

    const max = Math.max(minScale, ...values.map((v) => v ?? 0));
    const pad = 3 * ratio;
    const x = (i: number) => width - pad - ((values.length - 1 - i) * (width - 2 * pad)) / (capacity - 1);
    const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
    g.strokeStyle = g.fillStyle = getComputedStyle(canvas).color;
    g.lineWidth = 1.5 * ratio;
    g.lineJoin = "round";

    for (const run of runs(values)) {
      g.beginPath();
      run.forEach(([i, v], n) => (n ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
      g.stroke();
      // Shade the area under the line, lightly.
      g.lineTo(x(run[run.length - 1]![0]), height);
      g.lineTo(x(run[0]![0]), height);
      g.globalAlpha = 0.15;
      g.fill();
      g.globalAlpha = 1;
    }
    const last = values.length - 1;
    const newest = values[last];
    if (newest != null) {
      g.beginPath();
      g.arc(x(last), y(newest), 2.5 * ratio, 0, 2 * Math.PI);
      g.fill();
    }
  }
}

/** Consecutive non-null samples as [index, value] runs. */
function runs(values: (number | null)[]): [number, number][][] {
  const result: [number, number][][] = [];
  let current: [number, number][] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) result.push(current);
      current = [];
    } else current.push([i, v]);
  });
  if (current.length) result.push(current);
  return result;
}
