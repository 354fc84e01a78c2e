/**
 * Builds the certificates a node creates on its first start in a short-lived
 * child process: node-forge (about 1 MB of source) loads there and every byte
 * it touched goes back to the system when the child exits. (A worker thread
 * freed its isolate but left ~3.5 MiB in the thread's malloc arena for the
 * life of the server.)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createAuthority, createNodeCertificate, type KeyedCertificate } from './issuer.js';

export type CertificateJob =
  | { readonly kind: 'authority'; readonly commonName: string; readonly privateKey: string }
  | { readonly kind: 'node'; readonly nodeName: string; readonly privateKey: string; readonly ca: KeyedCertificate };

type Answer = { readonly pem: string } | { readonly error: string };

/** argv[2] of the child: this module runs as a builder only when started for it. */
const BUILDER_FLAG = 'certificate-builder';

const build = (job: CertificateJob): string =>
  job.kind === 'authority' ? createAuthority(job.commonName, job.privateKey) : createNodeCertificate(job.nodeName, job.privateKey, job.ca);

/**
 * One child for a series of jobs (the CA and then the node certificate on a
 * fresh node), started on the first job. Jobs (private keys) travel over the
 * IPC pipe, never argv; the child answers them in order.
 */
export class CertificateBuilder {
  private child: ChildProcess | undefined;
  private readonly pending: { resolve(pem: string): void; reject(error: Error): void }[] = [];

  build(job: CertificateJob): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.started().send(job);
    });
  }

  /** Lets the child exit (it has no other work); a later job starts a new one. */
  close(): void {
    if (this.child?.connected) this.child.disconnect();
    this.child = undefined;
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    // No inherited execArgv: the server's own flags (--cpu-prof, --inspect) are not the builder's.
    const child = fork(fileURLToPath(import.meta.url), [BUILDER_FLAG], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (answer: Answer) => {
      const waiter = this.pending.shift();
      if ('pem' in answer) waiter?.resolve(answer.pem);
      else waiter?.reject(new Error(`certificate builder: ${answer.error}`));
    });
    const failAll = (error: Error): void => {
      if (this.child === child) this.child = undefined;
      for (const waiter of this.pending.splice(0)) waiter.reject(error);
    };
    child.once('error', failAll);
    child.once('exit', (code, signal) => failAll(new Error(`certificate builder exited (${signal ?? `code ${code}`}) before answering`)));
    this.child = child;
    return child;
  }
}

const isBuilder = process.argv[2] === BUILDER_FLAG && process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url;
if (isBuilder && process.send) {
  process.on('message', (job: CertificateJob) => {
    let answer: Answer;
    try {
      answer = { pem: build(job) };
    } catch (error) {
      answer = { error: (error as Error).message };
    }
    process.send!(answer);
  });
}
