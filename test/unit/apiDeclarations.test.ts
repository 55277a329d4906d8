/** The one-file bundle of the API's declarations that `smallwebrtc types` writes (apiDeclarations.ts). */
import { describe, expect, test } from "bun:test";
import { bundleDeclarations } from "../../lib/runner/apiDeclarations.ts";

describe("bundleDeclarations", () => {
  test("wraps the modules the entry reaches as ambient modules, renaming relative imports and keeping the rest", () => {
    const files = new Map([
      [
        "lib/mod.d.ts",
        [
          "/**",
          ' *   import { Pipeline } from "./lib/mod.ts";',
          " */",
          'export { Pipeline } from "./pipeline/pipeline.ts";',
          'export type { Options } from "./pipeline/options.ts";',
        ].join("\n"),
      ],
      [
        "lib/pipeline/pipeline.d.ts",
        [
          '/// <reference types="node" />',
          'import type { Options } from "./options.ts";',
          'import { z } from "zod";',
          "export declare class Pipeline {",
          '    constructor(options: Options, size: import("../media/size.ts").Size);',
          "}",
          "declare const schema: z.ZodString;",
          "declare global {",
          "    interface Window { pipeline: Pipeline }",
          "}",
          "export {};",
        ].join("\n"),
      ],
      ["lib/pipeline/options.d.ts", "export interface Options {\n    name: string;\n}"],
      ["lib/media/size.d.ts", "export type Size = number;"],
      ["lib/unused.d.ts", "export declare const unused: 1;"],
    ]);
    const bundle = bundleDeclarations(files, "lib/mod.d.ts");

    expect(bundle.split("\n").filter((line) => line.startsWith("declare module"))).toEqual([
      'declare module "smallwebrtc" {',
      'declare module "smallwebrtc/internal/pipeline/pipeline" {',
      'declare module "smallwebrtc/internal/pipeline/options" {',
      'declare module "smallwebrtc/internal/media/size" {',
    ]);
    // The doc comment's example stays as written; code is renamed.
    expect(bundle).toContain('   *   import { Pipeline } from "./lib/mod.ts";');
    expect(bundle).toContain('  export { Pipeline } from "smallwebrtc/internal/pipeline/pipeline";');
    expect(bundle).toContain('import("smallwebrtc/internal/media/size").Size');
    expect(bundle).toContain('  import { z } from "zod";');
    // `declare` is implied in an ambient module, except before `global`; reference directives cannot stand there.
    expect(bundle).toContain("  export class Pipeline {");
    expect(bundle).toContain("  const schema: z.ZodString;");
    expect(bundle).toContain("  declare global {");
    expect(bundle).not.toContain("<reference");
    expect(bundle).not.toContain("unused");
  });

  test("a module the entry imports but tsc did not emit is an error naming it", () => {
    expect(() => bundleDeclarations(new Map([["lib/mod.d.ts", 'export * from "./gone.ts";']]), "lib/mod.d.ts")).toThrow(
      "no declarations for lib/gone.d.ts",
    );
  });
});
