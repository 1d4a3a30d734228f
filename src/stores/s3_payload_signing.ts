/**
 * Whether an upload's body is hashed into its SigV4 signature. The SDK hashes every body it sends
 * (SHA-256, about 1.6 GB/s here: some 250 ms of the main thread per 400 MB). Over https, TLS already
 * guards the bytes in transit and the CRC-32s recorded in `checkpoint.json` (checked by every load and
 * `verify`) guard them at rest, so there, as boto3 does for S3 by default, bodies go out as
 * `UNSIGNED-PAYLOAD`: the headers are still signed, the body is not hashed. Over plain http the body
 * stays signed, since nothing else would stop a changed body from being accepted.
 */
import type { S3Client } from '@aws-sdk/client-s3';

/** The header the signer takes as the payload's hash when present (it then hashes nothing). */
const CONTENT_SHA256 = 'x-amz-content-sha256';

/**
 * Adds the step to `client`: `'https'` leaves bodies unsigned on https requests only, `'never'` on
 * every request (the caller's choice, e.g. a trusted network).
 */
export function unsignedPayloads(client: S3Client, where: 'https' | 'never'): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { protocol?: string; body?: unknown; headers?: Record<string, string> } | undefined;
      if (request?.headers && request.body !== undefined && request.body !== null && (where === 'never' || request.protocol === 'https:')) {
        request.headers[CONTENT_SHA256] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    // Before the signer (finalizeRequest step), after the request is built.
    { step: 'build', name: 'tfjsCheckpointUnsignedPayload' },
  );
}
