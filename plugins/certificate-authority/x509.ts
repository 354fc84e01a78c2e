/**
 * Reading certificates with node:crypto's X509Certificate, which parses any
 * key type and prints names, SANs, serials and dates exactly as Harper shows
 * them (Harper reads them with the same API).
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { CaInfo, CertificateDetails } from './tokens.js';

/** SANs every node certificate carries; they never identify a peer. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses a PEM string or DER bytes; throws node's error on anything else. */
export function parseCertificate(input: string | Uint8Array): X509Certificate {
  return new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
}

/** Every certificate of a PEM bundle (a CA file may hold a chain), in order. */
export function splitPemBundle(text: string): string[] {
  return (text.match(PEM_BLOCK) ?? []).map((block) => `${block}\n`);
}

export function certificateDetails(cert: X509Certificate): CertificateDetails {
  return {
    issuer: cert.issuer.replace(/\n/g, ' '),
    subject: cert.subject.replace(/\n/g, ' '),
    ...(cert.subjectAltName ? { subject_alt_name: cert.subjectAltName } : {}),
    serial_number: cert.serialNumber.toUpperCase(),
    valid_from: cert.validFrom,
    valid_to: cert.validTo,
  };
}

export function caInfo(cert: X509Certificate): CaInfo {
  const d = certificateDetails(cert);
  return {
    issuer: d.issuer,
    subject: d.subject,
    ...(d.subject_alt_name ? { subjectAltName: d.subject_alt_name } : {}),
    serialNumber: d.serial_number,
    validFrom: d.valid_from,
    validTo: d.valid_to,
  };
}

/** Node prints names one attribute per line with RFC 2253 escapes ("O=Plexus\, Inc."). */
function nameAttribute(name: string, key: string): string | undefined {
  for (const line of name.split('\n')) {
    if (line.startsWith(`${key}=`)) return line.slice(key.length + 1).replace(/\\(.)/g, '$1');
  }
  return undefined;
}

export const commonName = (cert: X509Certificate): string | undefined => nameAttribute(cert.subject, 'CN');

/** IPv6 in one canonical (compressed) form: node prints SAN addresses expanded. */
function canonicalHost(host: string): string {
  return isIP(host) === 6 ? new URL(`http://[${host}]`).hostname.slice(1, -1) : host;
}

/** DNS and IP SANs, canonical; other SAN types (URI, email, DirName) name no host. */
export function altNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    const match = /^(DNS|IP Address):(.*)$/.exec(part.trim());
    if (!match) continue;
    let value = match[2]!;
    // Node quotes a value holding a comma or quote as a JSON string.
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (value) names.push(canonicalHost(value));
  }
  return names;
}

/** The SANs that can identify a peer: every SAN except the loopback names all node certificates carry. */
export const identifyingAltNames = (cert: X509Certificate): string[] =>
  altNames(cert).filter((name) => !LOOPBACK_NAMES.has(name));

/** add_certificate's default name: the CN, else the first SAN (Harper's getPrimaryHostName). */
export const primaryHostName = (cert: X509Certificate): string | undefined => commonName(cert) ?? altNames(cert)[0];

/** Issued by itself and signed by its own key. */
export const isSelfSigned = (cert: X509Certificate): boolean => cert.checkIssued(cert) && cert.verify(cert.publicKey);

/** True when `issuer` issued `cert` and its key verifies the signature. */
export const issuedBy = (cert: X509Certificate, issuer: X509Certificate): boolean =>
  cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/** True when `key` is the certificate's private key; false, not a throw, when node cannot compare the two. */
export function matchesKey(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** Two PEM texts (certificate or key) equal but for CRs and surrounding whitespace; false when either is absent. */
export const samePem = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.replace(/\r/g, '').trim() === b.replace(/\r/g, '').trim();

/** Whether two PEMs hold the same certificate (whatever their line endings or surrounding text). */
export function sameCertificate(a: string, b: string): boolean {
  try {
    return parseCertificate(a).fingerprint256 === parseCertificate(b).fingerprint256;
  } catch {
    return false;
  }
}

/** The first line of node's parse error, for a 400 message. */
export const parseErrorText = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
