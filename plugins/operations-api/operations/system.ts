/** get_configuration and system_information (both super_user). */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { OperationError, type ConfigStore, type KernelInfo, type OperationDefinition } from '../../../kernel/index.js';

/** Top-level config keys that are never shown: transient values such as the bootstrap admin credentials. */
const HIDDEN_CONFIG_KEYS = new Set(['bootstrap']);

/** The distribution's name from /etc/os-release, when there is one. */
function distro(): string | undefined {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const line = /^PRETTY_NAME=(.*)$/m.exec(text)?.[1];
    return line?.replace(/^"(.*)"$/, '$1');
  } catch {
    return undefined;
  }
}

type Section = 'system' | 'time' | 'cpu' | 'memory';

const SECTIONS: Record<Section, (kernel: KernelInfo) => Record<string, unknown>> = {
  system: (kernel) => ({
    platform: os.platform(),
    distro: distro(),
    release: os.release(),
    hostname: os.hostname(),
    node_version: process.versions.node,
    arch: os.arch(),
    plexus_version: kernel.version,
  }),
  time: () => ({
    current: Date.now(),
    uptime: os.uptime(),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }),
  cpu: () => ({ cores: os.availableParallelism(), model: os.cpus()[0]?.model }),
  memory: () => {
    const total = os.totalmem();
    const free = os.freemem();
    return { total, free, used: total - free, rss: process.memoryUsage.rss() };
  },
};

function attributes(body: Record<string, unknown>): Section[] {
  const value = body.attributes;
  if (value === undefined || value === null) return Object.keys(SECTIONS) as Section[];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new OperationError(400, "'attributes' must be an array of strings");
  }
  const unknown = value.filter((item) => !Object.hasOwn(SECTIONS, item));
  if (unknown.length > 0) {
    throw new OperationError(400, `'attributes' has unknown item(s) ${unknown.map((u) => `'${u}'`).join(', ')}; expected ${Object.keys(SECTIONS).join(', ')}`);
  }
  return value as Section[];
}

export function systemOperations({ config, kernel }: { config: ConfigStore; kernel: KernelInfo }): OperationDefinition<any, any>[] {
  const getConfiguration: OperationDefinition<Record<string, unknown>, Record<string, unknown>> = {
    name: 'get_configuration',
    permission: 'super_user',
    handler: () => {
      const shown = Object.entries(config.tree()).filter(([key]) => !HIDDEN_CONFIG_KEYS.has(key));
      return { ...Object.fromEntries(shown), rootPath: config.rootPath };
    },
  };

  const systemInformation: OperationDefinition<{ sections: Section[] }, Record<string, unknown>> = {
    name: 'system_information',
    permission: 'super_user',
    input: (body) => ({ sections: attributes(body) }),
    handler: ({ sections }) => Object.fromEntries(sections.map((section) => [section, SECTIONS[section](kernel)])),
  };

  return [getConfiguration, systemInformation];
}
