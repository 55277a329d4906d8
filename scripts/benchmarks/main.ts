/** Entry point of scripts/bench: runs the named benchmarks and prints a table and a JSON summary. */
import { benchAudioPath } from "./audioPath.ts";

type Row = { [column: string]: string | number };

const BENCHES: Record<string, () => Promise<Row[]>> = {
  "audio-path": async () => (await benchAudioPath()).map((row) => ({ ...row })),
};

const USAGE = `Usage: scripts/bench [${Object.keys(BENCHES).join("|")}|all]
Prints each result as a table (ours, the aiortc reference measured in the same run, and their ratio), then one JSON line.`;

const wanted = process.argv[2] ?? "all";
if (wanted === "-h" || wanted === "--help" || (wanted !== "all" && !(wanted in BENCHES))) {
  console.log(USAGE);
  process.exit(wanted === "-h" || wanted === "--help" ? 0 : 2);
}

const summary: Record<string, unknown> = {};
for (const [name, run] of Object.entries(BENCHES)) {
  if (wanted !== "all" && wanted !== name) continue;
  const rows = await run();
  summary[name] = rows;
  console.log(`\n${name}: CPU microseconds per 20 ms frame (lower is better)`);
  console.table(rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "number" ? Number(v.toFixed(2)) : v]))));
}
console.log(JSON.stringify(summary));
