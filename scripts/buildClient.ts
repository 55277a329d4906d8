/**
 * Bundles the test client: public/index.html with the stylesheet and script it links, minified for the browser, into
 * public/dist/ (index.html, index.js, index.css). Run through `scripts/build-client`, which skips it when nothing changed.
 */
import { readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const PUBLIC = join(import.meta.dirname, "../public");
const DIST = join(PUBLIC, "dist");
const STAGE = join(PUBLIC, `.dist-${process.pid}`);

// The transport imports daily-js for its default media manager, which the page never builds (it brings its own
// UserMediaManager). Leaving daily-js out takes 260 KB off the bundle; the stub fails loudly should anything use it.
const DAILY_STUB = `const unavailable = () => { throw new Error("daily-js is not part of the smallwebrtc test client"); };
export default { getCallInstance: unavailable, createCallObject: unavailable };`;

const withoutDaily: Bun.BunPlugin = {
  name: "without-daily-js",
  setup(build) {
    build.onResolve({ filter: /^@daily-co\/daily-js$/ }, () => ({ path: "daily-js", namespace: "stub" }));
    build.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: DAILY_STUB, loader: "js" }));
  },
};

rmSync(STAGE, { recursive: true, force: true });
const result = await Bun.build({
  entrypoints: [join(PUBLIC, "index.html")],
  outdir: STAGE,
  target: "browser",
  minify: true,
  naming: { entry: "[name].[ext]", chunk: "[name].[ext]", asset: "[name].[ext]" },
  plugins: [withoutDaily],
});
if (!result.success) {
  rmSync(STAGE, { recursive: true, force: true });
  console.error(result.logs.join("\n"));
  process.exit(1);
}
// Replace the old site only once the new one is complete: a failed build leaves it in place.
rmSync(DIST, { recursive: true, force: true });
renameSync(STAGE, DIST);
const sizes = readdirSync(DIST).map((name) => `${name} ${(statSync(join(DIST, name)).size / 1024).toFixed(1)} KB`);
console.log(`test client built into public/dist: ${sizes.join(", ")}`);
