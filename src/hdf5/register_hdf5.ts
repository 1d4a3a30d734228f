/**
 * Registers the Keras HDF5 codecs (`.h5`, `.weights.h5`, `.keras`) with a platform's HDF5 host. The
 * codecs and the host are loaded on first use of such a file, and the host loads h5wasm then.
 */
import { registerFileCodec } from '../checkpoint/file_codec.js';
import type { Hdf5Host } from './hdf5_host.js';

export function registerHdf5Codecs(host: () => Promise<Hdf5Host>): void {
  registerFileCodec('h5', async () => (await import('../checkpoint/codec_h5.js')).h5Codec(await host(), 'h5'));
  registerFileCodec('weights.h5', async () => (await import('../checkpoint/codec_h5.js')).h5Codec(await host(), 'weights.h5'));
  registerFileCodec('keras', async () => (await import('../checkpoint/codec_keras.js')).kerasCodec(await host()));
}
