/**
 * FNV-1a, 32 bits, over UTF-16 code units: small, fast, stable across processes and languages.
 * Another `basis` gives a second hash of the same text, independent of the first.
 */
export function fnv1a32(text: string, basis = 0x811c9dc5): number {
  let hash = basis;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
