/**
 * True when `text` is at most `maxBytes` of UTF-8. Short text is known to fit without measuring it
 * (a UTF-16 code unit is at most 3 bytes of UTF-8).
 */
export function fitsUtf8(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes;
}

/**
 * `text` as UTF-8 when it is longer than `maxBytes`, else undefined: for callers that cut what does
 * not fit, so long text is encoded once (not measured, then encoded). Short text is not encoded.
 */
export function utf8IfOver(text: string, maxBytes: number): Buffer | undefined {
  if (text.length * 3 <= maxBytes) return undefined;
  const buf = Buffer.from(text, 'utf8');
  return buf.length > maxBytes ? buf : undefined;
}
