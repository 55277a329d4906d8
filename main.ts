#!/usr/bin/env -S bun
/** The smallwebrtc command: serves a built-in bot (echo unless --bot says otherwise). */
import { runMain } from "./lib/runner/runMain.ts";
import { directoryAssets } from "./lib/server/assets.ts";

await runMain(undefined, { assets: directoryAssets(new URL("./public/dist", import.meta.url).pathname) });
