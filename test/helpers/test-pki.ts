/**
 * A test PKI built with @peculiar/x509 on WebCrypto, independently of the
 * plugin's own forge-based issuer: a CA, leaf certificates (optionally naming
 * a CRL distribution point), CRLs, and PEM files for tls.* configs.
 */
import 'reflect-metadata';
import { X509Certificate as NodeCertificate, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;
const ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
const DAY = 86_400_000;

export interface TestCertificate {
  readonly pem: string;
  readonly keyPem: string;
  readonly keys: CryptoKeyPair;
  readonly cert: x509.X509Certificate;
  /** Upper-case hex, as node prints it. */
  readonly serial: string;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** As node:crypto prints it (whole bytes, upper case). */
const serialOf = (cert: x509.X509Certificate): string => new NodeCertificate(cert.toString("pem")).serialNumber.toUpperCase();

let counter = 0;
const nextSerial = (): string => `${Date.now().toString(16)}${(++counter).toString(16).padStart(4, '0')}`;

export async function createTestCa(commonName: string): Promise<TestCertificate> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: nextSerial(),
      name: `CN=${commonName}`,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { pem: cert.toString('pem'), keyPem: await keyPem(keys), keys, cert, serial: serialOf(cert) };
}

export async function createTestLeaf(
  ca: TestCertificate,
  commonName: string,
  options: { altNames?: readonly { type: 'dns' | 'ip'; value: string }[]; crlUrl?: string } = {},
): Promise<TestCertificate> {
  const keys = await keyPair();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (options.altNames) extensions.push(new x509.SubjectAlternativeNameExtension(options.altNames.map((n) => ({ ...n }))));
  if (options.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([options.crlUrl]));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: nextSerial(),
      subject: `CN=${commonName}`,
      issuer: ca.cert.subject,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions,
    },
    crypto,
  );
  return { pem: cert.toString('pem'), keyPem: await keyPem(keys), keys, cert, serial: serialOf(cert) };
}

/** A DER CRL of `ca` revoking `serials` (hex). */
export async function createTestCrl(ca: TestCertificate, serials: readonly string[]): Promise<Uint8Array> {
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: ca.cert.subject,
      thisUpdate: new Date(Date.now() - 60_000),
      nextUpdate: new Date(Date.now() + DAY),
      entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(Date.now() - 60_000) })),
      signingKey: ca.keys.privateKey,
      signingAlgorithm: ALGORITHM,
    },
    crypto,
  );
  return new Uint8Array(crl.rawData);
}

/** Writes `<name>.pem` files into dir; returns their paths. */
export function writePemFiles(dir: string, files: Readonly<Record<string, string>>): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    paths[name] = join(dir, `${name}.pem`);
    writeFileSync(paths[name]!, text, { mode: 0o600 });
  }
  return paths;
}
