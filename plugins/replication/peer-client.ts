/**
 * One authenticated exchange with a peer over a one-shot socket to its
 * `/replication`: send an OPERATION frame, await its OPERATION_RESULT. Every
 * failure becomes an OperationError naming the peer URL and the reason.
 */
import { OperationError } from '../../kernel/index.js';
import { openSocket, type SocketOptions } from './dialer.js';
import { field, OPERATION, OPERATION_RESULT, REJECT, type NodeOperation } from './handshake.js';
import { UNAUTHORIZED_CODE, WsChannel } from './ws-channel.js';

export const EXCHANGE_TIMEOUT_MS = 10_000;

/**
 * The status to answer our caller with for a peer's error status. A 401 is
 * about the `authorization` parameter sent to the peer, not the caller's own
 * login: answered as 401, clients would take their session for expired.
 */
const callerStatus = (peerStatus: number): number =>
  peerStatus === 401 ? 400 : peerStatus >= 400 && peerStatus < 600 ? peerStatus : 502;

export async function exchange(
  url: string,
  operation: NodeOperation,
  options: Omit<SocketOptions, 'timeoutMs'> & { timeoutMs?: number },
): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? EXCHANGE_TIMEOUT_MS;
  let channel: WsChannel;
  try {
    channel = new WsChannel((await openSocket(url, { ...options, timeoutMs })).ws);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const timedOut = /timed? ?out/i.test(message);
    throw new OperationError(timedOut ? 504 : 502, `Error returned from ${url}: ${message}`);
  }
  try {
    await channel.send([OPERATION, operation]);
    const [type, result, error] = await channel.next(timeoutMs, `the answer of ${url}`);
    if (type === REJECT) throw new OperationError(403, `${url} refused this node: ${String(field(result, 'reason'))}`);
    if (type !== OPERATION_RESULT) throw new OperationError(502, `Error returned from ${url}: unexpected answer`);
    if (error) {
      const status = Number(field(error, 'status')) || 500;
      throw new OperationError(callerStatus(status), `Error returned from ${url}: ${String(field(error, 'message'))}`);
    }
    return result;
  } catch (error) {
    if (error instanceof OperationError) throw error;
    const closed = await channel.closedWithin(1000);
    const message = closed?.reason ?? (error instanceof Error ? error.message : String(error));
    if (closed?.code === UNAUTHORIZED_CODE) {
      throw new OperationError(400, `${url} refused the credentials: ${message}${options.authorization ? '' : ' (no authorization was given and the peer does not know this node)'}`);
    }
    const timedOut = (error as { code?: unknown }).code === 'ETIMEDOUT';
    throw new OperationError(timedOut ? 504 : 502, `Error returned from ${url}: ${message}`);
  } finally {
    channel.close(1000, 'done');
  }
}
