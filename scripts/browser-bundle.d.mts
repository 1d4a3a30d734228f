/** Types of browser-bundle.mjs (the tests import it). */
export declare const BROWSER_EXTERNALS: string[];
export declare function h5wasmFileOf(outfile: string): string;
export declare function buildBrowserBundle(outfile?: string): Promise<{ main: unknown; h5wasm: unknown }>;
