/**
 * What a binding needs from a WebAssembly module, and whether a compiled module offers it. Our own bindings declare
 * the exports they call once, next to the binding: their typed view of `instance.exports` is derived from that
 * declaration, so the checked list and the calls cannot drift apart. Modules driven by third-party glue are held to
 * the interface of the pinned original instead. Only names and kinds can be checked (JavaScript sees no function
 * signatures), which is what tells one library's build from another's.
 */
import type { BundledFile } from "./bundledFiles.ts";

type Kind = WebAssembly.ImportExportKind;

/** One declared export. `T` is the binding's view of it and exists only as a type. */
export interface WasmExport<T> {
  readonly kind: Kind;
  readonly view?: T;
}

export type WasmExportDeclarations = Readonly<Record<string, WasmExport<unknown>>>;

/** The typed exports of an instance, derived from their declarations. */
export type WasmExports<D extends WasmExportDeclarations> = {
  readonly [K in keyof D]: D[K] extends WasmExport<infer T> ? T : never;
};

/** A function export: numbers in, a number or nothing out, as C compiled to WASM has it. */
export function wasmFunction<F extends (...args: number[]) => number | void>(): WasmExport<F> {
  return { kind: "function" };
}

export const wasmMemory: WasmExport<WebAssembly.Memory> = { kind: "memory" };

/**
 * A bundled module as one consumer instantiates it. With `exports` and `imports` it is our own binding: the module
 * must export what it declares and import nothing else than it supplies. Without them, third-party glue drives the
 * module, and a replacement must offer what the pinned original does.
 */
export interface WasmBinding<D extends WasmExportDeclarations = WasmExportDeclarations> {
  readonly file: BundledFile;
  readonly exports?: D;
  readonly imports?: WebAssembly.Imports;
}

/** Exports a module must have and imports it may ask for, as `WebAssembly.Module` lists them. */
export interface WasmInterface {
  readonly exports: readonly WebAssembly.ModuleExportDescriptor[];
  readonly imports: readonly Pick<WebAssembly.ModuleImportDescriptor, "module" | "name">[];
}

/** The interface our own binding declares it needs; undefined for a module driven by third-party glue. */
export function declaredInterface({ exports, imports }: WasmBinding): WasmInterface | undefined {
  if (!exports || !imports) return undefined;
  return {
    exports: Object.entries(exports).map(([name, { kind }]) => ({ name, kind })),
    imports: Object.entries(imports).flatMap(([module, fields]) =>
      Object.keys(fields).map((name) => ({ module, name })),
    ),
  };
}

/** The interface a module has, which a replacement for it must offer. */
export function interfaceOf(module: WebAssembly.Module): WasmInterface {
  return { exports: WebAssembly.Module.exports(module), imports: WebAssembly.Module.imports(module) };
}

/** What keeps `module` from serving as `needed`, in a few words, or undefined when nothing does. */
export function interfaceProblem(module: WebAssembly.Module, needed: WasmInterface): string | undefined {
  const has = new Map(WebAssembly.Module.exports(module).map(({ name, kind }) => [name, kind]));
  const missing = needed.exports
    .filter(({ name, kind }) => has.get(name) !== kind)
    .map(({ name, kind }) => (kind === "function" ? name : `${name} (${kind})`));
  const supplied = new Set(needed.imports.map(({ module, name }) => `${module}.${name}`));
  const unsupplied = WebAssembly.Module.imports(module)
    .map(({ module, name }) => `${module}.${name}`)
    .filter((name) => !supplied.has(name));
  const problems = [];
  if (missing.length > 0) problems.push(`lacks exports ${few(missing)}`);
  if (unsupplied.length > 0) problems.push(`needs imports that are not supplied: ${few(unsupplied)}`);
  return problems.length > 0 ? problems.join("; ") : undefined;
}

/** A list short enough for one line: the first ten names, then how many more. */
function few(names: string[]): string {
  const shown = names.slice(0, 10).join(", ");
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}
