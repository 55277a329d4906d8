#!/usr/bin/env -S bun
/** The smallwebrtc command: serves the built-in echo bot. */
import { echoBot } from "./lib/bots/echo.ts";
import { runMain } from "./lib/runner/runMain.ts";
import { directoryAssets } from "./lib/server/assets.ts";

await runMain(echoBot, { assets: directoryAssets(new URL("./public/dist", import.meta.url).pathname) });
