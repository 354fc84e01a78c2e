/**
 * system.hdb_certificate (primary key `name`, never replicated): one row per
 * certificate this node holds, in Harper's shape. Rows carry the name of a key
 * file, never key material.
 */
import type { X509Certificate } from 'node:crypto';
import type { DataRecord, StorageEngine } from '../storage/tokens.js';
import type { CertificateDetails } from './tokens.js';
import { certificateDetails, commonName, isSelfSigned, parseCertificate, samePem } from './x509.js';

const SYSTEM = 'system';
const TABLE = 'hdb_certificate';

export interface CertificateRow {
  readonly name: string;
  readonly certificate: string;
  /** A file under keys/ (or, for a tls.* row, the configured key's path relative to keys/). */
  readonly private_key_name?: string;
  readonly is_authority: boolean;
  readonly details: CertificateDetails;
  readonly is_self_signed: boolean;
  readonly uses: readonly string[];
  readonly __updatedtime__?: number;
}

export type NewCertificateRow = Omit<CertificateRow, 'details' | 'is_self_signed' | '__updatedtime__'> & {
  /** Default: whether the certificate signs itself. */
  readonly is_self_signed?: boolean;
};

/** The response shape of list_certificates, field order as Harper's. */
export function listView(row: CertificateRow): Record<string, unknown> {
  return {
    name: row.name,
    certificate: row.certificate,
    ...(row.private_key_name ? { private_key_name: row.private_key_name } : {}),
    is_authority: row.is_authority,
    details: row.details,
    is_self_signed: row.is_self_signed,
    uses: row.uses,
    __updatedtime__: row.__updatedtime__,
  };
}

export class CertificateRows {
  constructor(private readonly storage: StorageEngine) {}

  all(): CertificateRow[] {
    return this.storage
      .scanEntries(SYSTEM, TABLE)
      .filter((entry) => entry.value !== null)
      .map((entry) => entry.value as unknown as CertificateRow);
  }

  get(name: string): CertificateRow | undefined {
    return this.storage.get(SYSTEM, TABLE, [name])[0] as unknown as CertificateRow | undefined;
  }

  /**
   * Writes the whole row (details computed from the certificate). A field the
   * new row lacks is written as null so no stale key name survives an update.
   */
  async put(row: NewCertificateRow): Promise<void> {
    const cert = parseCertificate(row.certificate);
    const record: DataRecord = {
      name: row.name,
      certificate: row.certificate,
      private_key_name: row.private_key_name ?? null,
      is_authority: row.is_authority,
      details: certificateDetails(cert),
      is_self_signed: row.is_self_signed ?? isSelfSigned(cert),
      uses: [...row.uses],
    };
    await this.storage.write(SYSTEM, [{ type: 'upsert', table: TABLE, record }]);
  }

  /** Writes only when the certificate or key name differ from the stored row, so a restart rewrites nothing. */
  async putIfChanged(row: NewCertificateRow): Promise<void> {
    const existing = this.get(row.name);
    if (existing && samePem(existing.certificate, row.certificate) && existing.private_key_name === row.private_key_name) return;
    await this.put(row);
  }

  /** An authority's row name: its CN, or CN-serial when another certificate already holds that name. */
  authorityRowName(ca: X509Certificate): string {
    const name = commonName(ca) ?? ca.serialNumber.toUpperCase();
    const existing = this.get(name);
    return !existing || samePem(existing.certificate, ca.toString()) ? name : `${name}-${ca.serialNumber.toUpperCase()}`;
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.storage.write(SYSTEM, [{ type: 'delete', table: TABLE, id: name }]);
    return result.applied[0] === true;
  }
}
