/** get_configuration and system_information (both super_user). */
import { OperationError, type OperationDefinition } from '../../../kernel/index.js';
import { SECTIONS, type Section, type SectionSources } from './system-sections.js';

/** Top-level config keys that are never shown: transient values such as the bootstrap admin credentials. */
const HIDDEN_CONFIG_KEYS = new Set(['bootstrap']);

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

export function systemOperations(sources: SectionSources): OperationDefinition<any, any>[] {
  const { config } = sources;
  const getConfiguration: OperationDefinition<Record<string, unknown>, Record<string, unknown>> = {
    name: 'get_configuration',
    permission: 'super_user',
    handler: () => {
      const shown = Object.entries(config.tree()).filter(([key]) => !HIDDEN_CONFIG_KEYS.has(key));
      return { ...Object.fromEntries(shown), rootPath: config.rootPath };
    },
  };

  // Without `attributes`, every section, as Harper answers.
  const systemInformation: OperationDefinition<{ sections: Section[] }, Record<string, unknown>> = {
    name: 'system_information',
    permission: 'super_user',
    input: (body) => ({ sections: attributes(body) }),
    handler: ({ sections }) => Object.fromEntries(sections.map((section) => [section, SECTIONS[section](sources)])),
  };

  return [getConfiguration, systemInformation];
}
