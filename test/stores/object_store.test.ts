/** The conformance suite on the README's example store (examples/object_store.ts): a store written against the interface alone. */
import { objectStoreFixture } from './fixtures.js';
import { runConformance } from './conformance.js';

runConformance(objectStoreFixture);
