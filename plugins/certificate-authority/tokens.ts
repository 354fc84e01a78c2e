/**
 * The certificate-authority plugin's public surface: the certificate and key
 * this node presents for replication, the authorities it trusts, CSR creation
 * and signing for add_node's cross-signing, and revocation checks. The only
 * file other plugins import from `plugins/certificate-authority/`.
 */
import { createToken } from '../../kernel/index.js';

/** A certificate as list_certificates shows it (`details`). Dates in OpenSSL's form: "Nov 22 00:56:34 2026 GMT". */
export interface CertificateDetails {
  readonly issuer: string;
  readonly subject: string;
  /** "IP Address:127.0.0.1, DNS:localhost, …"; absent when the certificate has none. */
  readonly subject_alt_name?: string;
  /** Upper-case hex, no separators: "77664A2DA6D7E038". */
  readonly serial_number: string;
  readonly valid_from: string;
  readonly valid_to: string;
}

/** The same facts in the camelCase form hdb_nodes.ca_info and cluster_status use. */
export interface CaInfo {
  readonly issuer: string;
  readonly subject: string;
  readonly subjectAltName?: string;
  readonly serialNumber: string;
  readonly validFrom: string;
  readonly validTo: string;
}

/** What this node presents on replication sockets (server and client side). */
export interface ReplicationIdentity {
  readonly privateKey: string;
  /** The node certificate PEM, followed by its issuing CA when that is not the node's own. */
  readonly certificate: string;
  /** PEM of the CA that issued `certificate` (add_node_back's `usingCA`). */
  readonly issuerCa: string;
  /** Serial of `certificate`, upper-case hex. */
  readonly serialNumber: string;
}

/** The identity a peer's certificate can prove: its CN, and SANs other than localhost/127.0.0.1/::1. */
export interface PeerCertificateNames {
  readonly commonName?: string;
  readonly altNames: readonly string[];
  readonly serialNumber: string;
}

export interface RevocationVerdict {
  readonly revoked: boolean;
  /** Why the certificate is refused (revoked, or CRL unavailable under fail-closed). */
  readonly reason?: string;
}

export interface CertificateAuthority {
  /** The certificate and key replication presents: tls.* from config when set, else the latest one a peer signed for this node, else the generated node certificate. */
  replicationIdentity(): ReplicationIdentity;
  /** CA PEMs trusted for replication: the generated CA, every is_authority certificate, tls.certificateAuthority, and Node's root CAs when replication.enableRootCAs. */
  trustedAuthorities(): readonly string[];
  /** A CSR for this node's key: CN = node name; SANs = node name, localhost, 127.0.0.1, ::1; EKU serverAuth + clientAuth. */
  createCsr(): string;
  /** Signs a peer's CSR with this node's CA (a user-added authority whose key this node holds first): 3650 days, random 8-byte serial. Throws OperationError 400 on a bad CSR. */
  signCsr(csrPem: string): { certificate: string; signingCA: string };
  /** Stores a certificate a peer signed for this node's CSR (`<node>-replication`, uses [replication]) and its signing CA (an authority); replicationIdentity() switches to it. */
  installSignedCertificate(certificate: string, signingCA: string): Promise<void>;
  /** The facts of a PEM certificate for ca_info. Throws OperationError 400 on a bad PEM. */
  describe(pem: string): CaInfo;
  /** The names and serial a peer's certificate (PEM or DER) can be identified by. */
  peerNames(certificate: string | Uint8Array): PeerCertificateNames;
  /** CRL check of a peer certificate (PEM or DER) that carries CRL distribution points, per replication.mtls.certificateVerification; not revoked when verification is off or the certificate names no CRL. */
  checkRevocation(certificate: string | Uint8Array, issuerCa: string | undefined): Promise<RevocationVerdict>;
  /** Registers a listener for identity or trust changes (TLS contexts are rebuilt); returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export const CertificateAuthority = createToken<CertificateAuthority>('certificate-authority.service');
