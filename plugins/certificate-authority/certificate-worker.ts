/**
 * Builds the certificates a node creates on its first start in a short-lived
 * worker thread: node-forge (about 1 MB of source) then loads into the
 * worker's isolate and is freed with it, instead of staying resident for the
 * life of a server that used it once.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createAuthority, createNodeCertificate, type KeyedCertificate } from './issuer.js';

type Job =
  | { readonly kind: 'authority'; readonly commonName: string; readonly privateKey: string }
  | { readonly kind: 'node'; readonly nodeName: string; readonly privateKey: string; readonly ca: KeyedCertificate };

const build = (job: Job): string =>
  job.kind === 'authority' ? createAuthority(job.commonName, job.privateKey) : createNodeCertificate(job.nodeName, job.privateKey, job.ca);

/** Runs `job` in a new worker; resolves with the certificate's PEM. */
export function buildInWorker(job: Job): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job });
    worker.once('message', (pem: string) => resolve(pem));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`certificate worker exited with code ${code} before answering`)));
  });
}

if (!isMainThread && parentPort) parentPort.postMessage(build(workerData as Job));
