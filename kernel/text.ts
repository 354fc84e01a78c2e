/**
 * Well-formed Unicode text. JSON's \uD800–\uDFFF escapes can produce an
 * unpaired UTF-16 surrogate, which has no UTF-8 form: stored or sent to a
 * peer it is silently replaced, so the data would differ from what the client
 * sent and between nodes.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const isWellFormedText = (text: string): boolean => !LONE_SURROGATE.test(text);

/** true when any string (key or value) anywhere inside `value` holds a lone surrogate. */
export function holdsIllFormedText(value: unknown): boolean {
  if (typeof value === 'string') return !isWellFormedText(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(holdsIllFormedText);
  for (const [key, inner] of Object.entries(value)) if (!isWellFormedText(key) || holdsIllFormedText(inner)) return true;
  return false;
}
