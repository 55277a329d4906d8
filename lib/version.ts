import manifest from "../package.json" with { type: "json" };

/** The product version, from package.json (embedded at build time in the binary). */
export const VERSION: string = manifest.version;
