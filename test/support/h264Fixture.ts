/**
 * The H.264 test stream test/fixtures/pattern-320x180-baseline.h264 (made here with Debian's x264; see
 * test/unit/h264.test.ts for the command), split the way an RTP sender needs it.
 */
import { readFileSync } from "node:fs";

export const h264Fixture = new Uint8Array(readFileSync(new URL("../fixtures/pattern-320x180-baseline.h264", import.meta.url)));

/** Splits an Annex B stream into NAL units (without start codes). */
export function nalUnits(stream: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 1) starts.push((i += 2) + 1);
  }
  return starts.map((start, k) => {
    let end = k + 1 < starts.length ? starts[k + 1] - 3 : stream.length;
    while (stream[end - 1] === 0) end--;
    return stream.subarray(start, end);
  });
}

/** Groups NAL units into access units: one begins at a non-slice NAL or a first slice after slices (§7.4.1.2.3). */
export function accessUnits(stream: Uint8Array): Uint8Array[] {
  const units: Uint8Array[][] = [[]];
  let sawSlice = false;
  for (const nal of nalUnits(stream)) {
    const type = nal[0] & 0x1f;
    const slice = type === 1 || type === 5;
    if (sawSlice && (!slice || nal[1] & 0x80)) {
      units.push([]);
      sawSlice = false;
    }
    units.at(-1)!.push(nal);
    sawSlice ||= slice;
  }
  return units.map((nals) => Buffer.concat(nals.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal])));
}
