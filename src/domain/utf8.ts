/**
 * True when `text` is at most `maxBytes` of UTF-8. Short text is known to fit without measuring it
 * (a UTF-16 code unit is at most 3 bytes of UTF-8).
 */
export function fitsUtf8(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes;
}
