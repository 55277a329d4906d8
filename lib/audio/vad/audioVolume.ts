/**
 * A window's loudness on Pipecat's 0-1 scale. Pipecat measures loudness of int16 samples (not normalised to
 * full scale) and maps -20..80 to 0..1; we use plain RMS level on the same scale, which makes 0.6, Pipecat's
 * default `minVolume`, about -50 dBFS: quiet background stays out, any spoken word gets in.
 */

const SMOOTHING = 0.2;

export function audioVolume(pcm: Int16Array): number {
  let sum = 0;
  for (const sample of pcm) sum += sample * sample;
  const rms = Math.sqrt(sum / Math.max(1, pcm.length));
  if (rms < 1) return 0;
  return Math.min(1, Math.max(0, (20 * Math.log10(rms) + 20) / 100));
}

/** Exponential smoothing so that a single loud click does not open the gate. */
export function smoothedVolume(pcm: Int16Array, previous: number): number {
  return previous + SMOOTHING * (audioVolume(pcm) - previous);
}
