/**
 * Building and signing certificates and CSRs. node-forge assembles the ASN.1;
 * keys come from node:crypto (native RSA keygen: forge's is far too slow for
 * a node that creates two keys on first start) and so does the RSA signature,
 * through a forge-shaped signer, so private keys never enter forge.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPair, privateEncrypt, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { isIP } from 'node:net';
import type forge from 'node-forge';
import { lazyModule, OperationError } from '../../kernel/index.js';

// Loaded when a certificate or CSR is built, not at start-up: a node restarted
// with its certificates in place never needs it (a few MiB of RSS).
const lib = lazyModule<typeof forge>(import.meta.url, 'node-forge');
const generateKeyPairAsync = promisify(generateKeyPair);

export const VALIDITY_DAYS = 3650;
const ORGANIZATION = 'Plexus';
/** Names every node certificate carries besides the node's own name (Harper's CERT_DOMAINS). */
const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'];
/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017 §9.2 note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export interface KeyedCertificate {
  readonly certificate: string;
  readonly privateKey: string;
}

type Extension = Record<string, unknown>;
type AltName = { type: number; value?: string; ip?: string };

/** A new RSA-2048 private key, PKCS#8 PEM; generated on libuv's thread pool so the event loop keeps serving. */
export async function generatePrivateKey(): Promise<string> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** True when the PEM is an RSA private key (forge certificates are RSA-signed). */
export function isRsaPrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

/** forge calls key.sign(md) with the digest of the to-be-signed bytes; node:crypto does the RSA operation. */
function signer(privateKeyPem: string): forge.pki.rsa.PrivateKey {
  const key = createPrivateKey(privateKeyPem);
  // Only sign() is ever called on it (by forge's cert.sign / csr.sign).
  return {
    sign(md: forge.md.MessageDigest) {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const signature = privateEncrypt(
        { key, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, digest]),
      );
      return signature.toString('binary');
    },
  } as unknown as forge.pki.rsa.PrivateKey;
}

const forgePublicKey = (privateKeyPem: string): forge.pki.PublicKey =>
  lib().pki.publicKeyFromPem(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }) as string);

/** 8 random bytes, high bit clear (a positive ASN.1 INTEGER) and first byte non-zero (no DER trimming). */
function serialNumber(): string {
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

const subjectOf = (commonName: string): forge.pki.CertificateField[] => [
  { name: 'commonName', value: commonName },
  { name: 'organizationName', value: ORGANIZATION },
];

const altName = (host: string): AltName => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host });

/** The node's name first, then the local names (once each). */
const nodeAltNames = (nodeName: string): AltName[] =>
  [...new Set([nodeName, ...LOCAL_NAMES])].map(altName);

/** A leaf for both ends of a mutual-TLS link. */
const leafExtensions = (altNames: readonly AltName[]): Extension[] => [
  { name: 'basicConstraints', cA: false, critical: true },
  { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
  { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
  ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
];

function newCertificate(publicKey: forge.pki.PublicKey): forge.pki.Certificate {
  const cert = lib().pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  const now = new Date();
  cert.validity.notBefore = now;
  cert.validity.notAfter = new Date(now.getTime() + VALIDITY_DAYS * 86_400_000);
  return cert;
}

/** A self-signed CA: basicConstraints CA, keyCertSign + cRLSign. */
export function createAuthority(commonName: string, privateKey: string): string {
  const cert = newCertificate(forgePublicKey(privateKey));
  cert.setSubject(subjectOf(commonName));
  cert.setIssuer(subjectOf(commonName));
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(signer(privateKey), lib().md.sha256.create());
  return lib().pki.certificateToPem(cert);
}

/** This node's certificate (CN = node name, SANs = node name + local names), signed by `ca`. */
export function createNodeCertificate(nodeName: string, privateKey: string, ca: KeyedCertificate): string {
  const cert = newCertificate(forgePublicKey(privateKey));
  cert.setSubject(subjectOf(nodeName));
  cert.setIssuer(lib().pki.certificateFromPem(ca.certificate).subject.attributes);
  cert.setExtensions([...leafExtensions(nodeAltNames(nodeName)), { name: 'subjectKeyIdentifier' }]);
  cert.sign(signer(ca.privateKey), lib().md.sha256.create());
  return lib().pki.certificateToPem(cert);
}

/** A PKCS#10 request for `privateKey`: CN = node name, the node certificate's SANs and usages requested. */
export function createCertificateRequest(nodeName: string, privateKey: string): string {
  const csr = lib().pki.createCertificationRequest();
  csr.publicKey = forgePublicKey(privateKey);
  csr.setSubject(subjectOf(nodeName));
  csr.setAttributes([{ name: 'extensionRequest', extensions: leafExtensions(nodeAltNames(nodeName)) }]);
  csr.sign(signer(privateKey), lib().md.sha256.create());
  return lib().pki.certificationRequestToPem(csr);
}

/** The DNS and IP SANs a CSR asks for (other types are not granted). */
function requestedAltNames(csr: forge.pki.CertificateSigningRequest): AltName[] {
  const request = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: Extension[] } | null;
  const san = request?.extensions?.find((e) => e.name === 'subjectAltName') as { altNames?: AltName[] } | undefined;
  return (san?.altNames ?? []).flatMap((name): AltName[] => {
    if (name.type === 2 && name.value) return [{ type: 2, value: name.value }];
    if (name.type === 7 && name.ip) return [{ type: 7, ip: name.ip }];
    return [];
  });
}

/**
 * Signs a CSR with `ca`: subject and SANs from the request; usages fixed to a
 * server+client leaf whatever the request asks (a CSR must never obtain a CA
 * certificate); 3650 days; random serial.
 */
export function signCertificateRequest(csrPem: string, ca: KeyedCertificate): string {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = lib().pki.certificationRequestFromPem(csrPem);
  } catch (error) {
    throw new OperationError(400, `Invalid CSR: ${(error as Error).message}`);
  }
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    // forge throws on a malformed signature instead of returning false.
  }
  if (!verified) throw new OperationError(400, 'Invalid CSR: its signature does not verify');
  if (!csr.publicKey) throw new OperationError(400, 'Invalid CSR: it carries no public key');
  const cert = newCertificate(csr.publicKey as forge.pki.PublicKey);
  cert.setSubject(csr.subject.attributes);
  cert.setIssuer(lib().pki.certificateFromPem(ca.certificate).subject.attributes);
  cert.setExtensions([...leafExtensions(requestedAltNames(csr)), { name: 'subjectKeyIdentifier' }]);
  cert.sign(signer(ca.privateKey), lib().md.sha256.create());
  return lib().pki.certificateToPem(cert);
}
