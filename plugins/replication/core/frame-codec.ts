/**
 * The wire encoding of a frame (msgpack), shared by every FrameChannel.
 * msgpackr's fast path writes every map header in 16 bits, which throws for
 * an object of more than 65,535 keys; a record that wide is valid (storage
 * takes it), and a frame the sender cannot encode would stall its database's
 * link for good. Such a frame is encoded again with variable map sizes (5–10%
 * slower, so only then); the decoder reads both.
 */
import { Packr, unpack } from 'msgpackr';
import type { Frame } from './channel.js';

const fast = new Packr({ useRecords: false });
const wide = new Packr({ useRecords: false, variableMapSize: true });

export function encodeFrame(frame: Frame): Buffer {
  try {
    return fast.pack(frame);
  } catch {
    return wide.pack(frame);
  }
}

export const decodeFrame = (bytes: Uint8Array): unknown => unpack(bytes);
