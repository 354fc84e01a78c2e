/** The certificate a TLS peer presented, once its chain verified against the trusted CAs. */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export interface PeerCertificate {
  /** DER. */
  readonly raw: Uint8Array;
  /** PEM of the CA that issued it, when the peer sent or this node knows it (for CRL checks). */
  readonly issuerCa?: string;
}

/** The chain-verified peer certificate of a TLS socket, or undefined (none, or not trusted). */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | undefined {
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate(true);
  if (!cert?.raw) return undefined;
  const issuer = cert.issuerCertificate && cert.issuerCertificate.raw && !cert.issuerCertificate.raw.equals(cert.raw) ? cert.issuerCertificate.raw : undefined;
  return { raw: cert.raw, issuerCa: issuer ? new X509Certificate(issuer).toString() : undefined };
}
