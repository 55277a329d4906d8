/**
 * Where the built test client lives: embedded in the binary (`scripts/build` puts it under /$bunfs/root/client),
 * or in public/dist when running from source (`scripts/build-client` writes it there).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type AssetSource, directoryAssets } from "./assets.ts";

const EMBEDDED_CLIENT = "/$bunfs/root/client";

export function clientAssets(): AssetSource {
  if (existsSync(EMBEDDED_CLIENT)) return directoryAssets(EMBEDDED_CLIENT);
  return directoryAssets(fileURLToPath(new URL("../../public/dist", import.meta.url)));
}
