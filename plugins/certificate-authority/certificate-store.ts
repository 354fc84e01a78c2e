/**
 * add_certificate and remove_certificate: the checks on the row, and the key
 * files under keys/ that rows reference (a key is stored once, and its file
 * goes with the last row naming it). The caller rebuilds its state afterwards.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { OperationError } from '../../kernel/index.js';
import type { CertificateRows, NewCertificateRow } from './certificate-rows.js';
import { CA_KEY_FILE, isKeyFileName, NODE_KEY_FILE, type KeyStore } from './key-store.js';
import { isSelfSigned, issuedBy, matchesKey, parseCertificate, parseErrorText, primaryHostName, sameCertificate, samePem } from './x509.js';

export interface NewCertificate {
  readonly name?: string;
  readonly certificate: string;
  readonly isAuthority: boolean;
  readonly privateKey?: string;
  readonly uses?: readonly string[];
}

/** What remove_certificate must leave in place: the row replication presents and the tls.* key. */
export interface InUse {
  readonly presentedRowName?: string;
  /** The CA (PEM) that issued the certificate replication presents. */
  readonly presentedIssuerCa?: string;
  readonly configuredKeyName?: string;
}

export class CertificateStore {
  /** `caName` is the generated CA's row, which neither operation may touch. */
  constructor(
    private readonly rows: CertificateRows,
    private readonly keys: KeyStore,
    private readonly caName: string,
    /** The node's name: its generated certificate's row. */
    private readonly nodeName: string,
  ) {}

  /**
   * add_certificate; returns the sanitized name Harper's message shows.
   * `ca` is the generated CA: a certificate it issued is listed as self-signed.
   */
  async add(input: NewCertificate, ca: X509Certificate): Promise<string> {
    let cert: X509Certificate;
    try {
      cert = parseCertificate(input.certificate);
    } catch (error) {
      throw new OperationError(400, `Invalid certificate format for ${input.name ?? 'certificate'}: ${parseErrorText(error)}`);
    }
    let key: KeyObject | undefined;
    if (input.privateKey !== undefined) {
      try {
        key = createPrivateKey(input.privateKey);
      } catch {
        throw new OperationError(400, `'private_key' is not a PEM private key`);
      }
      if (!matchesKey(cert, key)) throw new OperationError(400, `'private_key' does not match the certificate`);
    }
    const stored = input.privateKey === undefined ? await this.storedKeyFor(cert) : undefined;
    if (!input.isAuthority && key === undefined && stored === undefined) {
      throw new OperationError(400, 'A suitable private key was not found for this certificate');
    }
    const name = input.name ?? primaryHostName(cert);
    if (name === undefined) {
      throw new OperationError(400, 'Error extracting certificate host name, please provide a name parameter');
    }
    if (name === this.caName) throw new OperationError(400, `'${name}' is this node's certificate authority and cannot be replaced`);
    const saniName = name.replace(/[^a-z0-9.]/gi, '-');

    let keyName = stored;
    if (input.privateKey !== undefined) {
      keyName = (await this.storedKeyName(input.privateKey)) ?? (await this.writeNewKey(`${saniName}.pem`, name, input.privateKey));
    }
    const row: NewCertificateRow = {
      name,
      certificate: input.certificate,
      ...(keyName !== undefined ? { private_key_name: keyName } : {}),
      is_authority: input.isAuthority,
      uses: input.uses ?? [],
      is_self_signed: isSelfSigned(cert) || issuedBy(cert, ca),
    };
    await this.rows.put(row);
    return saniName;
  }

  /** remove_certificate; the generated CA and certificate, the certificate replication presents and its issuer cannot be removed. */
  async remove(name: string, inUse: InUse): Promise<void> {
    const row = this.rows.get(name);
    if (!row) throw new OperationError(400, `${name} not found`);
    if (name === this.caName) throw new OperationError(400, `Cannot remove ${name}: it is this node's certificate authority`);
    if (name === inUse.presentedRowName) {
      throw new OperationError(400, `Cannot remove ${name}: replication presents it (add or install another certificate first)`);
    }
    // Issued again at the next start, it would then be the newest and replace the certificate peers trust.
    if (name === this.nodeName && row.private_key_name === NODE_KEY_FILE) {
      throw new OperationError(400, `Cannot remove ${name}: it is this node's generated certificate (the next start would issue it again)`);
    }
    // Without it the presented certificate no longer verifies here, and peers that trust only this CA would refuse the fallback.
    if (row.is_authority && inUse.presentedIssuerCa !== undefined && sameCertificate(row.certificate, inUse.presentedIssuerCa)) {
      throw new OperationError(400, `Cannot remove ${name}: it issued the certificate replication presents (${inUse.presentedRowName ?? 'configured'})`);
    }
    await this.rows.delete(name);
    const keyName = row.private_key_name;
    const kept = new Set([CA_KEY_FILE, NODE_KEY_FILE, inUse.configuredKeyName]);
    if (keyName && isKeyFileName(keyName) && !kept.has(keyName) && !this.rows.all().some((r) => r.private_key_name === keyName)) {
      await this.keys.remove(keyName);
    }
  }

  /** The key file (referenced by a row) that holds the certificate's key. */
  private async storedKeyFor(cert: X509Certificate): Promise<string | undefined> {
    for (const name of this.referencedKeyFiles()) {
      const pem = await this.keys.read(name);
      if (pem && matchesKey(cert, createPrivateKey(pem))) return name;
    }
    return undefined;
  }

  /** The key file that already holds exactly this key, so it is not stored twice. */
  private async storedKeyName(privateKey: string): Promise<string | undefined> {
    for (const name of this.referencedKeyFiles()) {
      if (samePem(await this.keys.read(name), privateKey)) return name;
    }
    return undefined;
  }

  private referencedKeyFiles(): string[] {
    const names = this.rows.all().map((row) => row.private_key_name).filter((n): n is string => !!n && isKeyFileName(n));
    return [...new Set(names)];
  }

  private async writeNewKey(file: string, certName: string, pem: string): Promise<string> {
    if (!isKeyFileName(file)) throw new OperationError(400, `'name' must contain a letter or digit to name its key file`);
    const owner = this.rows.all().find((row) => row.private_key_name === file && row.name !== certName);
    if (owner || file === CA_KEY_FILE || file === NODE_KEY_FILE) {
      throw new OperationError(400, `The key file '${file}' belongs to certificate '${owner?.name ?? file}'; choose another name`);
    }
    await this.keys.write(file, pem);
    return file;
  }
}
