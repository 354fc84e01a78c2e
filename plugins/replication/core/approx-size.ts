/**
 * A quick estimate of a value's encoded (msgpack) size, to bound a frame
 * before it is encoded. Strings count their UTF-16 length, so multi-byte
 * text can encode up to 3× larger: callers keep their bound well below the
 * peer's frame limit. Iterative, so deeply nested values cannot overflow the stack.
 */
export function approxSize(value: unknown): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 5;
    else if (v === null || typeof v !== 'object') size += 9;
    else if (ArrayBuffer.isView(v)) size += v.byteLength + 5;
    else if (Array.isArray(v)) {
      size += 5;
      for (const item of v) stack.push(item);
    } else {
      size += 5;
      for (const [key, item] of Object.entries(v)) {
        size += key.length + 5;
        stack.push(item);
      }
    }
  }
  return size;
}
