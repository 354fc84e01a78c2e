/**
 * The user's tls.* files (certificate, private key, optional CA bundle): read,
 * checked at start-up (a bad file is a ConfigError naming its key) and
 * recorded in system.hdb_certificate so list_certificates shows them.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ConfigError } from '../../kernel/index.js';
import type { CertificateRows } from './certificate-rows.js';
import type { TlsFiles } from './config.js';
import type { ReplicationIdentity } from './tokens.js';
import { isSelfSigned, issuedBy, matchesKey, parseCertificate, parseErrorText, primaryHostName, splitPemBundle } from './x509.js';

/** The presented identity, plus the name of its hdb_certificate row. */
export interface Presented extends ReplicationIdentity {
  readonly rowName: string;
}

/** The user's tls.* files, loaded and checked. */
export interface ConfiguredTls {
  readonly identity: Presented;
  readonly authorities: readonly string[];
  /** hdb_certificate.private_key_name of the configured key (its path relative to keys/). */
  readonly keyName: string;
}

async function read(key: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(key, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function parseAll(key: string, path: string, text: string): X509Certificate[] {
  const pems = splitPemBundle(text);
  if (pems.length === 0) throw new ConfigError(key, `${path} holds no PEM certificate`);
  return pems.map((pem) => {
    try {
      return parseCertificate(pem);
    } catch (error) {
      throw new ConfigError(key, `${path} holds an invalid certificate: ${parseErrorText(error)}`);
    }
  });
}

/** Loads and checks tls.*, and upserts its certificate and authorities (named by `nodeName` when the certificate names no host). */
export async function loadConfiguredTls(
  tls: TlsFiles,
  { rows, keysDir, nodeName }: { rows: CertificateRows; keysDir: string; nodeName: string },
): Promise<ConfiguredTls> {
  const chain = parseAll('tls.certificate', tls.certificate, await read('tls.certificate', tls.certificate));
  const leaf = chain[0]!;
  const keyText = await read('tls.privateKey', tls.privateKey);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch {
    throw new ConfigError('tls.privateKey', `${tls.privateKey} holds no PEM private key`);
  }
  if (!matchesKey(leaf, key)) {
    throw new ConfigError('tls.privateKey', `${tls.privateKey} is not the key of the certificate in ${tls.certificate}`);
  }
  const authorities = tls.certificateAuthority
    ? parseAll('tls.certificateAuthority', tls.certificateAuthority, await read('tls.certificateAuthority', tls.certificateAuthority))
    : [];
  const issuer = [...chain.slice(1), ...authorities].find((ca) => issuedBy(leaf, ca)) ?? (isSelfSigned(leaf) ? leaf : undefined);
  if (!issuer) {
    throw new ConfigError(
      'tls.certificateAuthority',
      `is required: the certificate in ${tls.certificate} is not self-signed and neither its file nor tls.certificateAuthority holds its issuer`,
    );
  }
  const presentedChain = chain.map((c) => c.toString());
  if (issuer !== leaf && !chain.includes(issuer)) presentedChain.push(issuer.toString());

  const name = primaryHostName(leaf) ?? nodeName;
  const keyName = relative(keysDir, tls.privateKey);
  await rows.putIfChanged({ name, certificate: leaf.toString(), private_key_name: keyName, is_authority: false, uses: ['replication'] });
  for (const ca of authorities) {
    await rows.putIfChanged({ name: rows.authorityRowName(ca), certificate: ca.toString(), is_authority: true, uses: [] });
  }
  return {
    identity: {
      rowName: name,
      privateKey: keyText,
      certificate: presentedChain.join(''),
      issuerCa: issuer.toString(),
      serialNumber: leaf.serialNumber.toUpperCase(),
    },
    authorities: authorities.map((ca) => ca.toString()),
    keyName,
  };
}
