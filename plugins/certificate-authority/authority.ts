/**
 * The CertificateAuthority service: this node's CA and node certificate
 * (created on first start), the user's tls.* certificate, the certificate
 * replication presents and the authorities it trusts. The current identity
 * and trust set are kept in memory (rebuilt after every change) so the TLS
 * code reads them synchronously; listeners hear of each change.
 */
import { createPrivateKey, type X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { OperationError, type Logger } from '../../kernel/index.js';
import type { StorageEngine } from '../storage/tokens.js';
import { CertificateRows, type CertificateRow } from './certificate-rows.js';
import { CertificateStore, type NewCertificate } from './certificate-store.js';
import { CertificateBuilder } from './certificate-builder.js';
import type { CaConfig } from './config.js';
import { loadConfiguredTls, type ConfiguredTls, type Presented } from './configured-tls.js';
import {
  createCertificateRequest,
  generatePrivateKey,
  isRsaPrivateKey,
  signCertificateRequest,
  type KeyedCertificate,
} from './issuer.js';
import { CA_KEY_FILE, isKeyFileName, KeyStore, NODE_KEY_FILE } from './key-store.js';
import { CrlChecker } from './revocation.js';
import type {
  CaInfo,
  CertificateAuthority,
  PeerCertificateNames,
  ReplicationIdentity,
  RevocationVerdict,
} from './tokens.js';
import {
  altNames,
  caInfo,
  commonName,
  identifyingAltNames,
  issuedBy,
  matchesKey,
  parseCertificate,
  parseErrorText,
  splitPemBundle,
} from './x509.js';

export interface AuthorityOptions {
  readonly storage: StorageEngine;
  readonly nodeName: string;
  readonly rootPath: string;
  readonly config: CaConfig;
  readonly logger: Logger;
  /** Called after every change of identity or trust (TLS contexts are rebuilt). */
  readonly changed: () => void;
}

/** The service minus onChange, whose listeners the plugin keeps (they may subscribe before start). */
export class Authority implements Omit<CertificateAuthority, 'onChange'> {
  readonly caName: string;
  private readonly rows: CertificateRows;
  private readonly keys: KeyStore;
  private readonly store: CertificateStore;
  private readonly crl?: CrlChecker;
  private readonly parsed = new Map<string, X509Certificate>();
  private ca?: KeyedCertificate;
  private nodeKey?: string;
  private configured?: ConfiguredTls;
  private presented?: Presented;
  private trusted: string[] = [];
  /** The CA signCsr uses: a user-added authority whose key this node holds, else the generated CA. */
  private signing?: KeyedCertificate;

  constructor(private readonly options: AuthorityOptions) {
    this.caName = `Plexus-Certificate-Authority-${options.nodeName}`;
    this.rows = new CertificateRows(options.storage);
    this.keys = new KeyStore(options.rootPath);
    this.store = new CertificateStore(this.rows, this.keys, this.caName, options.nodeName);
    if (options.config.crl) this.crl = new CrlChecker(options.config.crl, options.logger);
  }

  /** Creates the CA and node certificate when absent, loads tls.* and builds the in-memory state. */
  async start(): Promise<void> {
    const builder = new CertificateBuilder();
    try {
      // Both keys are generated in parallel on first start.
      const [ca, nodeKey] = await Promise.all([this.ensureAuthority(builder), this.ensureNodeKey()]);
      this.ca = ca;
      this.nodeKey = nodeKey;
      await this.ensureNodeCertificate(this.ca, this.nodeKey, builder);
    } finally {
      builder.close();
    }
    if (this.options.config.tls) {
      this.configured = await loadConfiguredTls(this.options.config.tls, {
        rows: this.rows,
        keysDir: this.keys.dir,
        nodeName: this.options.nodeName,
      });
    }
    await this.refresh();
    const identity = this.replicationIdentity();
    this.options.logger.info('replication certificate', { name: this.presented?.rowName, serial: identity.serialNumber });
  }

  // ── CertificateAuthority ──

  replicationIdentity(): ReplicationIdentity {
    if (!this.presented) throw new Error('The certificate authority has not started');
    const { privateKey, certificate, issuerCa, serialNumber } = this.presented;
    return { privateKey, certificate, issuerCa, serialNumber };
  }

  trustedAuthorities(): readonly string[] {
    return this.trusted;
  }

  createCsr(): string {
    return createCertificateRequest(this.options.nodeName, this.started().nodeKey);
  }

  signCsr(csrPem: string): { certificate: string; signingCA: string } {
    const ca = this.started().signing;
    return { certificate: signCertificateRequest(csrPem, ca), signingCA: ca.certificate };
  }

  async installSignedCertificate(certificate: string, signingCA: string): Promise<void> {
    const { nodeKey } = this.started();
    const cert = this.parseOr400(certificate, 'signed certificate');
    if (!matchesKey(cert, createPrivateKey(nodeKey))) {
      throw new OperationError(400, "The signed certificate is not for this node's key");
    }
    const authorities = splitPemBundle(signingCA);
    const ca = authorities.map((pem) => this.parseOr400(pem, 'signing CA')).find((candidate) => issuedBy(cert, candidate));
    if (!ca) throw new OperationError(400, 'The signed certificate was not issued by the signing CA it came with');
    await this.rows.put({ name: this.rows.authorityRowName(ca), certificate: ca.toString(), is_authority: true, uses: [] });
    await this.rows.put({
      name: `${this.options.nodeName}-replication`,
      certificate: cert.toString(),
      private_key_name: NODE_KEY_FILE,
      is_authority: false,
      uses: ['replication'],
      is_self_signed: false,
    });
    await this.changed();
  }

  describe(pem: string): CaInfo {
    return caInfo(this.parseOr400(pem, 'certificate'));
  }

  peerNames(certificate: string | Uint8Array): PeerCertificateNames {
    const cert = parseCertificate(certificate);
    const cn = commonName(cert);
    return { ...(cn ? { commonName: cn } : {}), altNames: identifyingAltNames(cert), serialNumber: cert.serialNumber.toUpperCase() };
  }

  async checkRevocation(certificate: string | Uint8Array, issuerCa: string | undefined): Promise<RevocationVerdict> {
    if (!this.crl) return { revoked: false };
    const cert = parseCertificate(certificate);
    // The CA the caller names first, then every trusted one (the peer may present a certificate another CA signed).
    const candidates = [...(issuerCa !== undefined ? splitPemBundle(issuerCa) : []), ...this.trusted];
    const issuer = candidates.map((pem) => this.parse(pem)).find((ca) => ca !== undefined && issuedBy(cert, ca));
    return this.crl.check(cert, issuer);
  }

  // ── operations ──

  list(): CertificateRow[] {
    return this.rows.all();
  }

  /** add_certificate; returns the sanitized name Harper's message shows. */
  async addCertificate(input: NewCertificate): Promise<string> {
    const { ca } = this.started();
    const name = await this.store.add(input, this.parse(ca.certificate)!);
    await this.changed();
    return name;
  }

  /** remove_certificate; CertificateStore.remove says what cannot be removed. */
  async removeCertificate(name: string): Promise<void> {
    await this.store.remove(name, {
      presentedRowName: this.presented?.rowName,
      presentedIssuerCa: this.presented?.issuerCa,
      configuredKeyName: this.configured?.keyName,
    });
    await this.changed();
  }

  // ── start-up ──

  private async ensureAuthority(builder: CertificateBuilder): Promise<KeyedCertificate> {
    let key = await this.keys.read(CA_KEY_FILE);
    const row = this.rows.get(this.caName);
    if (key && row && matchesKey(parseCertificate(row.certificate), createPrivateKey(key))) {
      return { certificate: row.certificate, privateKey: key };
    }
    if (!key) {
      key = await generatePrivateKey();
      await this.keys.write(CA_KEY_FILE, key);
    }
    const certificate = await builder.build({ kind: 'authority', commonName: this.caName, privateKey: key });
    await this.rows.put({ name: this.caName, certificate, private_key_name: CA_KEY_FILE, is_authority: true, uses: [], is_self_signed: true });
    this.options.logger.info('created certificate authority', { name: this.caName });
    return { certificate, privateKey: key };
  }

  private async ensureNodeKey(): Promise<string> {
    const existing = await this.keys.read(NODE_KEY_FILE);
    if (existing) return existing;
    const key = await generatePrivateKey();
    await this.keys.write(NODE_KEY_FILE, key);
    return key;
  }

  /** The generated node certificate (row = node name), re-issued when missing, keyless or from an older CA. */
  private async ensureNodeCertificate(ca: KeyedCertificate, nodeKey: string, builder: CertificateBuilder): Promise<void> {
    const { nodeName } = this.options;
    const row = this.rows.get(nodeName);
    const keyName = row?.private_key_name;
    if (row && keyName) {
      // A certificate the user added under this name, or the tls.* one (keyed outside keys/): theirs to keep.
      if (isKeyFileName(keyName) ? keyName !== NODE_KEY_FILE : this.options.config.tls !== undefined) return;
      const cert = this.parse(row.certificate);
      if (keyName === NODE_KEY_FILE && cert && matchesKey(cert, createPrivateKey(nodeKey)) && issuedBy(cert, parseCertificate(ca.certificate))) return;
    }
    const certificate = await builder.build({ kind: 'node', nodeName, privateKey: nodeKey, ca });
    await this.rows.put({
      name: nodeName,
      certificate,
      private_key_name: NODE_KEY_FILE,
      is_authority: false,
      uses: ['replication'],
      is_self_signed: true,
    });
    this.options.logger.info('created node certificate', { name: nodeName });
  }

  // ── state ──

  private async changed(): Promise<void> {
    await this.refresh();
    this.options.changed();
  }

  /** Rebuilds the presented identity, the trust set and the signing CA from the rows and key files. */
  private async refresh(): Promise<void> {
    const ca = this.ca!;
    const rows = this.rows.all();
    const authorities = rows.filter((row) => row.is_authority);
    this.trusted = dedupe([
      ca.certificate,
      ...authorities.map((row) => row.certificate),
      ...(this.configured?.authorities ?? []),
      ...(this.options.config.enableRootCAs ? rootCertificates : []),
    ]);
    this.presented = this.configured?.identity ?? (await this.latestNodeCertificate(rows));
    this.signing = (await this.userSigningAuthority(authorities)) ?? ca;
  }

  /** The newest row naming this node (CN or SAN) for replication whose key this node holds. */
  private async latestNodeCertificate(rows: readonly CertificateRow[]): Promise<Presented> {
    const { nodeName } = this.options;
    const candidates = rows
      .filter((row) => !row.is_authority && row.private_key_name && isKeyFileName(row.private_key_name))
      .filter((row) => row.name === nodeName || row.uses?.some((use) => use === 'replication' || use === 'wss'))
      .sort((a, b) => (b.__updatedtime__ ?? 0) - (a.__updatedtime__ ?? 0));
    for (const row of candidates) {
      const cert = this.parse(row.certificate);
      if (!cert || (commonName(cert) !== nodeName && !altNames(cert).includes(nodeName))) continue;
      const key = await this.keys.read(row.private_key_name!);
      if (!key || !matchesKey(cert, createPrivateKey(key))) continue;
      const issuer = this.trusted.map((pem) => this.parse(pem)).find((c) => c !== undefined && issuedBy(cert, c));
      if (!issuer) continue;
      // Peers hold this node's own CA already; any other issuer travels with the certificate.
      const bare = [this.ca!.certificate, row.certificate].some((pem) => this.parse(pem)!.fingerprint256 === issuer.fingerprint256);
      return {
        rowName: row.name,
        privateKey: key,
        certificate: bare ? row.certificate : `${row.certificate}${issuer.toString()}`,
        issuerCa: issuer.toString(),
        serialNumber: cert.serialNumber.toUpperCase(),
      };
    }
    throw new Error(`No certificate for ${nodeName} with a usable private key in system.hdb_certificate`);
  }

  private async userSigningAuthority(authorities: readonly CertificateRow[]): Promise<KeyedCertificate | undefined> {
    for (const row of authorities) {
      if (row.name === this.caName || !row.private_key_name || !isKeyFileName(row.private_key_name)) continue;
      const key = await this.keys.read(row.private_key_name);
      const cert = this.parse(row.certificate);
      // forge signs with RSA only.
      if (key && cert?.ca && isRsaPrivateKey(key) && matchesKey(cert, createPrivateKey(key))) {
        return { certificate: row.certificate, privateKey: key };
      }
    }
    return undefined;
  }

  // ── helpers ──

  private started(): { ca: KeyedCertificate; nodeKey: string; signing: KeyedCertificate } {
    if (!this.ca || !this.nodeKey || !this.signing) throw new OperationError(503, 'The certificate authority has not started');
    return { ca: this.ca, nodeKey: this.nodeKey, signing: this.signing };
  }

  /** Memoized parse; undefined for a PEM node cannot read. */
  private parse(pem: string): X509Certificate | undefined {
    let cert = this.parsed.get(pem);
    if (!cert) {
      try {
        cert = parseCertificate(pem);
      } catch {
        return undefined;
      }
      this.parsed.set(pem, cert);
    }
    return cert;
  }

  private parseOr400(pem: string, what: string): X509Certificate {
    try {
      return parseCertificate(pem);
    } catch (error) {
      throw new OperationError(400, `Invalid ${what}: ${parseErrorText(error)}`);
    }
  }
}

const dedupe = (pems: readonly string[]): string[] => {
  const seen = new Set<string>();
  return pems.filter((pem) => {
    const key = pem.replace(/\r/g, '').trim();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};
