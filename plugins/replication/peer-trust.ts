/**
 * Who may speak wss:// replication with this node: the TLS material to present
 * (from the certificate-authority plugin), the CAs to trust (that plugin's
 * authorities plus every hdb_nodes row's `ca`, which gossip spreads), and the
 * checks a verified peer certificate must still pass — it names the expected
 * node, its serial is not revoked (hdb_nodes revoked_certificates or a route's
 * revokedCertificates), and its CRL does not list it.
 */
import { createHash } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { CertificateAuthority } from '../certificate-authority/tokens.js';
import type { NodeStore } from './node-store.js';
import type { PeerCertificate } from './peer-certificate.js';
import { normalizeSerial } from './routes.js';

export interface PeerTrustDeps {
  readonly ca: CertificateAuthority;
  readonly nodes: NodeStore;
  /** Serials revoked by configured routes (local policy). */
  routeRevocations(): Iterable<string>;
  /** Known peer names: a certificate CN naming another of them never identifies `expected`. */
  knownPeers(): Iterable<string>;
}

export class PeerTrust {
  constructor(private readonly deps: PeerTrustDeps) {}

  /** CA PEMs trusted for replication, deduplicated. */
  authorities(): string[] {
    const out = new Set(this.deps.ca.trustedAuthorities());
    for (const row of this.deps.nodes.all()) if (typeof row.ca === 'string' && row.ca.includes('BEGIN CERTIFICATE')) out.add(row.ca);
    return [...out];
  }

  /** key, cert and CAs for a TLS context (server) or a dial (client). */
  contextOptions(): Required<Pick<SecureContextOptions, 'key' | 'cert' | 'ca'>> {
    const identity = this.deps.ca.replicationIdentity();
    return { key: identity.privateKey, cert: identity.certificate, ca: this.authorities() };
  }

  /** Changes whenever the material contextOptions() returns changes. */
  fingerprint(): string {
    const { key, cert, ca } = this.contextOptions();
    return createHash('sha256').update(String(key)).update(String(cert)).update((ca as string[]).join('\n')).digest('hex');
  }

  /** The serial of a peer certificate, normalized. */
  serialOf(certificate: PeerCertificate): string {
    return normalizeSerial(this.deps.ca.peerNames(certificate.raw).serialNumber);
  }

  /** Serials refused from any peer: hdb_nodes revoked_certificates (gossiped) and routes' revokedCertificates. */
  revokedSerials(): Set<string> {
    const out = new Set<string>();
    for (const serial of this.deps.routeRevocations()) out.add(normalizeSerial(serial));
    for (const row of this.deps.nodes.all()) {
      const list = row.revoked_certificates;
      if (Array.isArray(list)) for (const serial of list) if (typeof serial === 'string') out.add(normalizeSerial(serial));
    }
    return out;
  }

  /**
   * Why a chain-verified peer certificate may not act as `expected`, or
   * undefined when it may: the CN names it (or, when the CN names no known
   * node, a SAN does), the serial is not revoked, and its CRL does not list it.
   */
  async refusal(expected: string, { raw, issuerCa }: PeerCertificate): Promise<string | undefined> {
    const { ca } = this.deps;
    const names = ca.peerNames(raw);
    const serial = normalizeSerial(names.serialNumber);
    if (this.revokedSerials().has(serial)) return `certificate ${serial} of ${expected} is revoked`;
    const known = new Set(this.deps.knownPeers());
    const cnNamesOther = names.commonName !== undefined && names.commonName !== expected && known.has(names.commonName);
    const named = names.commonName === expected || (!cnNamesOther && names.altNames.includes(expected));
    if (!named) return `certificate ${serial} (CN ${names.commonName ?? 'none'}) does not identify ${expected}`;
    const verdict = await ca.checkRevocation(raw, issuerCa);
    return verdict.revoked ? (verdict.reason ?? `certificate ${serial} of ${expected} is revoked by its CRL`) : undefined;
  }
}
