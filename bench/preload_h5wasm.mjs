// Loads h5wasm with plain Node before tsx's loader is registered: tsx would otherwise transform its
// 4 MB module (about 4 s and 600 MiB once per process), a cost of tsx, not of the library (plain
// node loads it in about 0.1 s and 40 MiB). Later imports of the same module reuse this instance.
await import('h5wasm/node');
