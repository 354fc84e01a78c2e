/**
 * `get_attributes` projection for the NoSQL search operations. Harper fills
 * every requested attribute, so a record that lacks one shows it as null
 * (`"new_attr": null`).
 */
import type { DataRecord, TableDefinition } from '../../storage/tokens.js';

const ALL = '*';

/**
 * The output keys: `*` expands to the table's attributes in definition order
 * (primary key, timestamps, then the others); explicit names keep the
 * requested order.
 */
const expand = (definition: TableDefinition, getAttributes: readonly string[]): string[] => {
  const keys = new Set<string>();
  for (const name of getAttributes) {
    if (name === ALL) for (const attribute of definition.attributes) keys.add(attribute.name);
    else keys.add(name);
  }
  return [...keys];
};

export const projector = (
  definition: TableDefinition,
  getAttributes: readonly string[],
): ((record: DataRecord) => DataRecord) => {
  const keys = expand(definition, getAttributes);
  const wildcard = getAttributes.includes(ALL);
  return (record) => {
    const out: DataRecord = {};
    // Own attributes only: `constructor` or `toString` must not read Object.prototype's members.
    for (const key of keys) out[key] = Object.hasOwn(record, key) ? (record[key] ?? null) : null;
    // A record can carry attributes the definition has not caught up with; `*` still means all of them.
    if (wildcard) for (const [key, value] of Object.entries(record)) if (!Object.hasOwn(out, key)) out[key] = value;
    return out;
  };
};
