/** The conformance suite on the S3 store, against a real S3 server (s3rver) on 127.0.0.1: its uploads through the upload thread, and from the main thread (a client of your own). */
import { after } from 'node:test';
import { s3Fixture, s3OwnClientFixture, stopS3Fixture } from './fixtures.js';
import { runConformance } from './conformance.js';

after(stopS3Fixture);
runConformance(s3Fixture);
runConformance(s3OwnClientFixture);
