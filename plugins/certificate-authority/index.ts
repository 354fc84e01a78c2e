/**
 * The certificate-authority plugin: this node's CA and node certificate
 * (created on first start; keys under <ROOTPATH>/keys, certificates in
 * system.hdb_certificate), the user's tls.* certificate, the certificate
 * operations, and the CertificateAuthority service replication's wss://
 * transport presents and trusts certificates through.
 */
import { join } from 'node:path';
import { definePlugin, keysDir, OperationError } from '../../kernel/index.js';
import { NodeIdentity } from '../identity/tokens.js';
import { StorageEngine } from '../storage/tokens.js';
import { Authority } from './authority.js';
import { parseCaConfig, type CaConfig } from './config.js';
import { NODE_KEY_FILE } from './key-store.js';
import { certificateOperations } from './operations.js';
import { CertificateAuthority } from './tokens.js';

export default definePlugin<CaConfig>({
  manifest: {
    name: 'certificate-authority',
    version: '0.1.0',
    provides: [CertificateAuthority],
    requires: [StorageEngine, NodeIdentity],
  },
  config: parseCaConfig,
  register(ctx) {
    // Without tls.* the node's generated key is the one in use: get_configuration shows its file, as Harper does.
    ctx.configStore.derive('tls.privateKey', join(keysDir(ctx.kernel.rootPath), NODE_KEY_FILE));
    let authority: Authority | undefined;
    const started = (): Authority => {
      if (!authority) throw new OperationError(503, 'The certificate authority is not running');
      return authority;
    };
    const listeners = new Set<() => void>();
    const changed = (): void => {
      for (const listener of [...listeners]) {
        try {
          listener();
        } catch (error) {
          ctx.logger.error('certificate change listener failed', { error: String(error) });
        }
      }
    };

    const service: CertificateAuthority = {
      replicationIdentity: () => started().replicationIdentity(),
      trustedAuthorities: () => started().trustedAuthorities(),
      createCsr: () => started().createCsr(),
      signCsr: (csr) => started().signCsr(csr),
      installSignedCertificate: (certificate, signingCA) => started().installSignedCertificate(certificate, signingCA),
      describe: (pem) => started().describe(pem),
      peerNames: (certificate) => started().peerNames(certificate),
      checkRevocation: (certificate, issuerCa) => started().checkRevocation(certificate, issuerCa),
      onChange(listener) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    };
    ctx.provide(CertificateAuthority, { useValue: service });
    for (const operation of certificateOperations(started)) ctx.operations.register(operation);

    ctx.lifecycle.onStart(async () => {
      const instance = new Authority({
        storage: ctx.resolve(StorageEngine),
        nodeName: ctx.resolve(NodeIdentity).name,
        rootPath: ctx.kernel.rootPath,
        config: ctx.config,
        logger: ctx.logger,
        changed,
      });
      await instance.start();
      authority = instance;
    });
    ctx.lifecycle.onStop(() => {
      authority = undefined;
      listeners.clear();
    });
  },
});
