/** The conformance suite on the local tier (an fs store in front of a memory store). */
import { tieredFixture } from './fixtures.js';
import { runConformance } from './conformance.js';

runConformance(tieredFixture);
