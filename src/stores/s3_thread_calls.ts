/**
 * S3 requests run whole on another thread. Sending bodies from a thread (s3_thread_body.ts) leaves
 * the SDK's own work on the main thread: building, signing, retrying and parsing each request costs
 * it about 1 ms, some 20 to 55 requests per 400 MB checkpoint. So where the runtime's sender can run
 * the SDK itself (Node: node/s3_send_thread.ts), the store's commands go there, to a client made from
 * the store's own plain options; this thread only posts each command's input and takes its output.
 *
 * Credentials stay resolved here, by the store's own client (its provider chain, caching and refresh
 * as the user set them), and travel with each command: a provider function cannot cross threads.
 * Bodies cross as their sources (a descriptor or shared memory, never copied); small byte bodies
 * (markers, pointers) are copied. Not sent there:
 *  - `GetObject`: its answer is a stream (reads are not what training waits on);
 *  - conditional puts (`IfNoneMatch`): if the thread died after such a request went out, sending it
 *    again here would find its own object and claim another name;
 *  - large byte bodies (over 1 MiB), which would be copied.
 * A command the thread cannot take (not started, died, its SDK could not load) is sent here instead.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { ThreadBody, type BodySource } from './s3_thread_body.js';

/** The options a thread's client is made from: plain data only. */
export interface ThreadClientOptions {
  config: Omit<S3ClientConfig, 'credentials' | 'requestHandler'> & { requestHandler: { connectionTimeout: number; socketTimeout: number } };
  /** Where bodies go as `UNSIGNED-PAYLOAD` (see s3_payload_signing.ts); undefined: always signed. */
  unsigned: 'https' | 'never' | undefined;
}

/** A body as it crosses to the thread. */
export interface ThreadBodyInput {
  $source: BodySource;
}

/** A client on another thread. */
export interface ThreadClient {
  /**
   * Runs `new <command>Command(input)` there with `credentials`; `{ output }`, or undefined when the
   * thread cannot (the caller then sends the command itself). Rejects with the SDK's error: its name,
   * message, `code` and `$metadata` kept.
   */
  call(command: string, input: Record<string, unknown>, credentials: unknown): Promise<{ output: unknown } | undefined>;
}

/** The commands a thread runs, by class (names survive no minifier). */
const ON_THREAD = new Map<unknown, string>([
  [PutObjectCommand, 'PutObject'],
  [CreateMultipartUploadCommand, 'CreateMultipartUpload'],
  [UploadPartCommand, 'UploadPart'],
  [CompleteMultipartUploadCommand, 'CompleteMultipartUpload'],
  [AbortMultipartUploadCommand, 'AbortMultipartUpload'],
  [HeadObjectCommand, 'HeadObject'],
  [ListObjectsV2Command, 'ListObjectsV2'],
  [DeleteObjectCommand, 'DeleteObject'],
  [DeleteObjectsCommand, 'DeleteObjects'],
  [CopyObjectCommand, 'CopyObject'],
  [UploadPartCopyCommand, 'UploadPartCopy'],
]);

const MAX_COPIED_BODY = 1024 * 1024;

/** The input as it crosses to the thread, or undefined when this command stays here (see above). */
function threadInput(input: Record<string, unknown>): Record<string, unknown> | undefined {
  if (input['IfNoneMatch'] !== undefined) return undefined;
  const body = input['Body'];
  if (body === undefined || body === null || typeof body === 'string') return input;
  if (body instanceof ThreadBody) return { ...input, Body: { $source: body.source } satisfies ThreadBodyInput };
  // A copy of just these bytes (posting a view would copy its whole buffer).
  if (body instanceof Uint8Array && body.byteLength <= MAX_COPIED_BODY) return { ...input, Body: body.slice() };
  return undefined;
}

/** The part of the client's interface the store uses. */
export type S3Sender = Pick<S3Client, 'send'>;

/** Sends `client`'s commands through `thread` where it can take them (see above), else through `client`. */
export function commandsOnThread(client: S3Client, thread: ThreadClient): S3Sender {
  const credentials = client.config.credentials as () => Promise<unknown>;
  const send = async (command: { input: Record<string, unknown> }): Promise<unknown> => {
    const name = ON_THREAD.get(command.constructor);
    const input = name !== undefined ? threadInput(command.input) : undefined;
    if (name !== undefined && input !== undefined) {
      const done = await thread.call(name, input, await credentials());
      if (done !== undefined) return done.output;
    }
    return client.send(command as unknown as Parameters<S3Client['send']>[0]);
  };
  return { send } as unknown as S3Sender;
}
