/** The conformance suite on the memory store. */
import { memoryFixture } from './fixtures.js';
import { runConformance } from './conformance.js';

runConformance(memoryFixture);
