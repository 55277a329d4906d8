#!/usr/bin/env -S bun
/** The smallwebrtc command: serves a built-in bot (echo unless --bot says otherwise). */
import { runMain } from "./lib/runner/runMain.ts";

await runMain();
