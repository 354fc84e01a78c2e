/**
 * CRL checking of peer certificates (replication.mtls.certificateVerification):
 * the CRL named by a certificate's CRL distribution points is downloaded over
 * http(s), verified against the issuing CA (issuer name and signature), cached,
 * and its revoked serials compared with the certificate's. node-forge cannot
 * read CRLs, so @peculiar/x509 parses and verifies them (on WebCrypto).
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect polyfill loaded first.
import 'reflect-metadata';
import type { X509Certificate as NodeCertificate } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import type { X509Crl } from '@peculiar/x509';
import { lazyModule, type Logger } from '../../kernel/index.js';
import type { CrlOptions } from './config.js';
import type { RevocationVerdict } from './tokens.js';

/** A CRL larger than this is refused rather than buffered. */
const MAX_CRL_BYTES = 16 * 1024 * 1024;
/** Clock skew tolerated on a CRL's thisUpdate. */
const SKEW_MS = 5 * 60_000;

interface CachedCrl {
  readonly serials: ReadonlySet<string>;
  readonly fetchedAt: number;
  readonly nextUpdate?: number;
}

const crypto = webcrypto as unknown as Crypto;

// Loaded on the first CRL check, not at start-up: it costs ~8 MiB of RSS most nodes never use.
const x509 = lazyModule<typeof import('@peculiar/x509')>(import.meta.url, '@peculiar/x509');

/** Serial numbers compared as upper-case hex without leading zeros (node prints them so). */
const normalizeSerial = (hex: string): string => hex.toUpperCase().replace(/^0+(?=.)/, '');

/** The http(s) URLs of the certificate's CRL distribution points. */
export function crlUrls(cert: NodeCertificate): string[] {
  const { X509Certificate, CRLDistributionPointsExtension } = x509();
  const extension = new X509Certificate(cert.raw).getExtension(CRLDistributionPointsExtension);
  const urls: string[] = [];
  for (const point of extension?.distributionPoints ?? []) {
    for (const name of point.distributionPoint?.fullName ?? []) {
      const uri = name.uniformResourceIdentifier;
      if (uri && /^https?:\/\//i.test(uri)) urls.push(uri);
    }
  }
  return urls;
}

/** The response body, refused as soon as it passes `max` bytes (without a Content-Length it could be endless). */
async function boundedBody(response: Response, max: number): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let part = await reader?.read(); part && !part.done; part = await reader!.read()) {
    size += part.value.byteLength;
    if (size > max) {
      await reader!.cancel();
      throw new Error(`CRL exceeds ${max} bytes`);
    }
    chunks.push(part.value);
  }
  return new Uint8Array(Buffer.concat(chunks, size));
}

export class CrlChecker {
  private readonly cache = new Map<string, CachedCrl>();
  private readonly inflight = new Map<string, Promise<CachedCrl>>();

  constructor(
    private readonly options: CrlOptions,
    private readonly logger: Logger,
  ) {}

  /** `issuer`: the CA that issued `cert` (and so signs its CRL); undefined when unknown. */
  async check(cert: NodeCertificate, issuer: NodeCertificate | undefined): Promise<RevocationVerdict> {
    // Reported as node prints serials (as list_certificates shows them); compared normalized.
    const serial = cert.serialNumber.toUpperCase();
    let urls: string[];
    try {
      urls = crlUrls(cert);
    } catch (error) {
      return this.unavailable(serial, [`cannot read its CRL distribution points: ${(error as Error).message}`]);
    }
    if (urls.length === 0) return { revoked: false };
    const failures: string[] = [];
    for (const url of urls) {
      try {
        if (!issuer) throw new Error('the issuing CA is not a trusted authority, so its CRL cannot be verified');
        const crl = await this.load(url, issuer);
        if (crl.serials.has(normalizeSerial(serial))) return { revoked: true, reason: `certificate ${serial} is revoked by the CRL at ${url}` };
        return { revoked: false };
      } catch (error) {
        failures.push(`${url}: ${(error as Error).message}`);
      }
    }
    return this.unavailable(serial, failures);
  }

  /** No usable CRL: refused under fail-closed, allowed (and logged) under fail-open. */
  private unavailable(serial: string, failures: readonly string[]): RevocationVerdict {
    const reason = `CRL check of certificate ${serial} failed (${failures.join('; ')})`;
    if (this.options.failureMode === 'fail-open') {
      this.logger.warn('CRL unavailable; allowing the certificate (failureMode fail-open)', { serial, reason });
      return { revoked: false };
    }
    return { revoked: true, reason };
  }

  private async load(url: string, issuer: NodeCertificate): Promise<CachedCrl> {
    const key = `${issuer.fingerprint256} ${url}`;
    const cached = this.cache.get(key);
    const now = Date.now();
    if (cached && now - cached.fetchedAt < this.options.cacheTtl && (cached.nextUpdate ?? Infinity) > now) return cached;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetchVerified(url, issuer).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    try {
      const fresh = await pending;
      this.cache.set(key, fresh);
      return fresh;
    } catch (error) {
      // A CRL that could not be refreshed stays usable for gracePeriod past its validity.
      const validUntil = cached && (cached.nextUpdate ?? cached.fetchedAt + this.options.cacheTtl) + this.options.gracePeriod;
      if (cached && validUntil !== undefined && validUntil > Date.now()) {
        this.logger.warn('CRL refresh failed; using the cached CRL within its grace period', { url, error: (error as Error).message });
        return cached;
      }
      throw error;
    }
  }

  private async fetchVerified(url: string, issuer: NodeCertificate): Promise<CachedCrl> {
    const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeout), redirect: 'follow' }).catch(
      (error: Error) => {
        throw new Error(`download failed: ${error.cause instanceof Error ? error.cause.message : error.message}`);
      },
    );
    if (!response.ok) throw new Error(`download failed: HTTP ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_CRL_BYTES) throw new Error(`CRL of ${length} bytes exceeds ${MAX_CRL_BYTES}`);
    const body = await boundedBody(response, MAX_CRL_BYTES);

    let crl: X509Crl;
    try {
      // DER, or PEM text.
      crl = new (x509().X509Crl)(body[0] === 0x30 ? body : new TextDecoder().decode(body));
    } catch (error) {
      throw new Error(`not a CRL: ${(error as Error).message}`);
    }
    const ca = new (x509().X509Certificate)(issuer.raw);
    if (crl.issuer !== ca.subject) throw new Error(`CRL issuer '${crl.issuer}' is not the certificate's issuer '${ca.subject}'`);
    if (!(await crl.verify({ publicKey: ca }, crypto))) throw new Error('CRL signature does not verify against the issuing CA');
    const now = Date.now();
    if (crl.thisUpdate.getTime() > now + SKEW_MS) throw new Error(`CRL thisUpdate ${crl.thisUpdate.toISOString()} is in the future`);
    const nextUpdate = crl.nextUpdate?.getTime();
    if (nextUpdate !== undefined && nextUpdate + this.options.gracePeriod < now) {
      throw new Error(`CRL expired at ${crl.nextUpdate!.toISOString()}`);
    }
    return {
      serials: new Set(crl.entries.map((entry) => normalizeSerial(entry.serialNumber))),
      fetchedAt: now,
      ...(nextUpdate !== undefined ? { nextUpdate } : {}),
    };
  }
}
