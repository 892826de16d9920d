/**
 * C2SP signed notes (https://c2sp.org/signed-note) and transparency log checkpoints (https://c2sp.org/tlog-checkpoint).
 * Parsing only: which signature lines to trust, and with which key, is the verifier's decision. The parser is
 * strict because the text is attacker-supplied until a signature over it verifies.
 */
import { type ErrorCode, VouchError } from '../errors.ts';

export interface NoteSignature {
  name: string;
  /** First 4 bytes of the signature blob: the key ID hint. */
  keyHint: Buffer;
  signature: Buffer;
}

export interface SignedNote {
  /** The signed text: every line of the note, each ending in "\n" (signed-note §Note text). */
  text: string;
  signatures: NoteSignature[];
}

export interface Checkpoint {
  origin: string;
  size: bigint;
  rootHash: Buffer;
  /** Extension lines after the root hash (e.g. Rekor v1's "Timestamp: ..."). */
  extensions: string[];
}

const MAX_NOTE = 1 << 20;
const MAX_SIGNATURES = 100;
const SIG_LINE = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/;

export function parseSignedNote(envelope: string, code: ErrorCode = 'TLOG_INVALID'): SignedNote {
  if (envelope.length > MAX_NOTE) throw new VouchError(code, 'signed note is too large');
  const split = envelope.indexOf('\n\n');
  if (split < 0) throw new VouchError(code, 'signed note has no signature block');
  const text = envelope.slice(0, split + 1);
  const block = envelope.slice(split + 2);
  if (!block.endsWith('\n')) throw new VouchError(code, 'signed note does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new VouchError(code, 'signed note has too many signatures');
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const m = SIG_LINE.exec(line);
    if (!m) throw new VouchError(code, 'malformed signed note signature line');
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.toString('base64') !== m[2] || blob.length < 5) {
      throw new VouchError(code, 'malformed signed note signature');
    }
    signatures.push({ name: m[1]!, keyHint: blob.subarray(0, 4), signature: blob.subarray(4) });
  }
  return { text, signatures };
}

/** Parse the checkpoint body (tlog-checkpoint §Note text): origin, decimal size, base64 root hash, extensions. */
export function parseCheckpoint(text: string, code: ErrorCode = 'TLOG_INVALID'): Checkpoint {
  const lines = text.split('\n');
  // text ends with "\n", so the last split element is empty.
  lines.pop();
  if (lines.length < 3) throw new VouchError(code, 'checkpoint has too few lines');
  const [origin, sizeText, hashText] = lines as [string, string, string];
  if (origin === '') throw new VouchError(code, 'checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText)) throw new VouchError(code, 'checkpoint size is not a decimal');
  const rootHash = Buffer.from(hashText, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== hashText) {
    throw new VouchError(code, 'checkpoint root hash is not 32 bytes of base64');
  }
  return { origin, size: BigInt(sizeText), rootHash, extensions: lines.slice(3) };
}
