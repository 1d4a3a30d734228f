/** The conformance suite on the fs store. */
import { fsFixture } from './fixtures.js';
import { runConformance } from './conformance.js';

runConformance(fsFixture);
