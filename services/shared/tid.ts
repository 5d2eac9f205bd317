// TIDs (atproto timestamp identifiers): 13 base32-sortable characters holding a
// 53-bit microsecond timestamp and a 10-bit clock id. Record keys of posts are
// TIDs, so a post's key says roughly when it was created.

const ALPHABET = '234567abcdefghijklmnopqrstuvwxyz';
const TID = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

/** The timestamp (µs) a TID carries, or undefined when the string is not a TID. */
export function tidTimestampUs(value: string): number | undefined {
  if (!TID.test(value)) return undefined;
  let n = 0n;
  for (const char of value) n = (n << 5n) | BigInt(ALPHABET.indexOf(char));
  return Number(n >> 10n);
}
