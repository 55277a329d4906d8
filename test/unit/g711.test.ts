import { describe, expect, test } from "bun:test";
import { decodeG711, encodeG711, type G711Law } from "../../lib/media/g711.ts";

describe("G.711", () => {
  for (const law of ["PCMU", "PCMA"] as G711Law[]) {
    test(`${law}: every code decodes and re-encodes to itself`, () => {
      const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const roundTrip = encodeG711(law, decodeG711(law, codes));
      // 0x7f/0xff in µ-law are both zero; everything else must be exact.
      const mismatches = [...codes].filter((code, i) => roundTrip[i] !== code && decodeG711(law, Uint8Array.of(code))[0] !== 0);
      expect(mismatches).toEqual([]);
    });

    test(`${law}: a sine keeps about 35 dB SNR`, () => {
      const pcm = Int16Array.from({ length: 8000 }, (_, i) => Math.round(12000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
      const decoded = decodeG711(law, encodeG711(law, pcm));
      let signal = 0;
      let noise = 0;
      for (let i = 0; i < pcm.length; i++) {
        signal += pcm[i] ** 2;
        noise += (pcm[i] - decoded[i]) ** 2;
      }
      expect(10 * Math.log10(signal / noise)).toBeGreaterThan(33);
    });
  }

  test("known values from the standard tables", () => {
    expect([...encodeG711("PCMU", Int16Array.of(0, -1, 32767, -32768))]).toEqual([0xff, 0x7f, 0x80, 0x00]);
    expect([...encodeG711("PCMA", Int16Array.of(0, -1, 32767, -32768))]).toEqual([0xd5, 0x55, 0xaa, 0x2a]);
  });
});
