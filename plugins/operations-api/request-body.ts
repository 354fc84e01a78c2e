/**
 * Reading and checking an operation request body, with Harper's exact
 * responses for each malformed case.
 */
import type { IncomingMessage } from 'node:http';
import { holdsIllFormedText, OperationError } from '../../kernel/index.js';

const MISSING_OPERATION = "Request body must include an 'operation' property.";
const PROTO_KEY = "The request contains a key named '__proto__', which cannot be stored (it is reserved in JavaScript)";
const ILL_FORMED =
  'The request contains text that is not well-formed Unicode (an unpaired UTF-16 surrogate escape such as \\ud800), which cannot be stored as sent';

const tooLarge = (): OperationError => new OperationError(413, 'Request body larger than maxBodySize');

/** The raw body; 413 as soon as it (or its declared length) exceeds `limit` bytes. */
export function readBody(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error): void => {
      incoming.off('data', onData).off('end', onEnd).off('error', onClose).off('close', onClose);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      // The rest of the body is discarded by the HTTP adapter once the response is sent.
      if (size > limit) finish(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish();
    // The client's doing (an abort or a reset, seen as 'error' or 'close'): a 400 it will not read, not a server error to log.
    const onClose = (): void => finish(new OperationError(400, 'client closed the connection before sending the whole body'));
    incoming.on('data', onData).on('end', onEnd).on('error', onClose).on('close', onClose);
  });
}

export interface OperationRequest {
  readonly name: string;
  readonly body: Record<string, unknown>;
}

/** Parses JSON and finds the operation name; every failure is a 400 with Harper's body. */
export function parseOperationRequest(raw: Buffer): OperationRequest {
  if (raw.length === 0) {
    throw new OperationError(400, "Body cannot be empty when content-type is set to 'application/json'");
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new OperationError(400, (error as Error).message);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OperationError(400, MISSING_OPERATION);
  const record = body as Record<string, unknown>;
  const name = record.operation;
  if (name === undefined || name === null || name === '') {
    // Harper answers an empty object in its framework's validation format.
    if (Object.keys(record).length === 0) {
      throw new OperationError(400, MISSING_OPERATION, { statusCode: 400, error: 'Bad Request', message: MISSING_OPERATION });
    }
    throw new OperationError(400, MISSING_OPERATION);
  }
  if (typeof name !== 'string') throw new OperationError(400, "'operation' must be a string");
  // Only a \uD8xx–\uDFxx escape makes a lone surrogate (decoded UTF-8 cannot): bodies without one are not walked.
  if ((raw.includes('\\ud') || raw.includes('\\uD')) && holdsIllFormedText(record)) throw new OperationError(400, ILL_FORMED);
  if (raw.includes('__proto__') && holdsProtoKey(record)) throw new OperationError(400, PROTO_KEY);
  return { name, body: record };
}

/** A `__proto__` key at any depth (JSON.parse makes it an own property; the record codec would rename it). */
function holdsProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(holdsProtoKey);
  return Object.hasOwn(value, '__proto__') || Object.values(value).some(holdsProtoKey);
}
