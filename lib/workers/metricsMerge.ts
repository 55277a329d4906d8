/**
 * /metrics of a server with workers: each worker renders its own series in the Prometheus text format, and here
 * they become one exposition, every worker's sample labelled `worker="<index>"`, so that a sum over the label
 * gives the server's figure and each worker's stays visible. A family appears once, with its HELP and TYPE.
 */

export interface MetricsPart {
  text: string;
  /** The label added to every sample of this part, e.g. `worker="1"`; none for the main process. */
  label?: string;
}

interface Family {
  header: string[];
  samples: string[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s(.*)$/;

export function mergeMetrics(parts: readonly MetricsPart[]): string {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { header: [], samples: [] }));
    return found;
  };
  for (const { text, label } of parts) {
    for (const line of text.split("\n")) {
      const comment = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (comment) {
        const { header } = family(comment[2]);
        if (!header.some((known) => known.startsWith(`# ${comment[1]} `))) header.push(line);
        continue;
      }
      const sample = SAMPLE.exec(line);
      if (!sample) continue;
      const [, name, labels, value] = sample;
      const merged = !label ? labels ?? "" : labels ? `{${label},${labels.slice(1)}` : `{${label}}`;
      family(familyOf(name, families)).samples.push(`${name}${merged} ${value}`);
    }
  }
  const lines: string[] = [];
  for (const { header, samples } of families.values()) lines.push(...header, ...samples);
  return `${lines.join("\n")}\n`;
}

/** A histogram's `_bucket`, `_sum` and `_count` samples belong to the family their HELP names. */
function familyOf(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return families.has(base) ? base : name;
}
