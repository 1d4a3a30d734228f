/**
 * This module's own URL, for resolving a package from where this library is installed (not from the
 * working directory). The ESM build keeps `import.meta.url`; scripts/build.mjs turns it into the
 * file's own URL in the CJS build, where `import.meta` does not exist.
 */
// @ts-ignore -- import.meta is ESM only; the CJS build replaces it (scripts/build.mjs).
export const moduleUrl: string = import.meta.url;
