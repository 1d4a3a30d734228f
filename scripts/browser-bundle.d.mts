/** Types of browser-bundle.mjs (the tests import it). */
export declare const BROWSER_EXTERNALS: string[];
export declare function buildBrowserBundle(outfile?: string): Promise<unknown>;
