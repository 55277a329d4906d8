/**
 * Each worker binds its media sockets in its own slice of `ice.portRange`, so that workers never race for a port
 * and the firewall rule for the range stays the one the user wrote.
 */
import { ConfigError } from "../config/layers.ts";

export function workerPortRange(
  range: [number, number] | undefined,
  index: number,
  count: number,
): [number, number] | undefined {
  if (!range || count <= 1) return range;
  const size = Math.floor((range[1] - range[0] + 1) / count);
  if (size < 2) {
    throw new ConfigError(`ice.portRange [${range[0]}, ${range[1]}] is too small for ${count} workers: give each at least 2 ports`);
  }
  const first = range[0] + index * size;
  return [first, index === count - 1 ? range[1] : first + size - 1];
}
