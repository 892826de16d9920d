/**
 * The Authenticode image digest ("Windows Authenticode Portable Executable Signature Format", Calculating the PE
 * Image Hash): every byte of the file but the ranges `excludedRanges` names, in the algorithms the signatures ask
 * for. Kept apart from the PKCS#7 code so a hasher can compute it without loading pkijs.
 */
import { createHash, type Hash } from 'node:crypto';
import { VouchError } from '../../errors.ts';
import { excludedRanges, type PeLayout, type PeSource } from './layout.ts';

const CHUNK = 4 << 20;

/**
 * The image digest computed from a file's bytes as they stream past, in any chunking, skipping the excluded ranges:
 * a hasher that already reads every byte of a PE file (the directory signer) feeds it the same chunks and gets the
 * Authenticode digests without a second read.
 */
export class ImageDigester {
  private readonly hashes: Array<[string, Hash]>;
  private readonly ranges: Array<[number, number]>;
  private next = 0;

  constructor(layout: PeLayout, algorithms: string[]) {
    this.hashes = algorithms.map((a) => [a, createHash(a)]);
    this.ranges = excludedRanges(layout);
  }

  /** The bytes of the file at `offset`; chunks must come in order, without gaps. */
  update(chunk: Buffer, offset: number): void {
    if (offset !== this.next) throw new VouchError('INTERNAL', `image digest fed at ${offset}, expected ${this.next}`);
    this.next += chunk.length;
    let pos = offset;
    const end = offset + chunk.length;
    for (const [start, stop] of this.ranges) {
      if (stop <= pos || start >= end) continue;
      if (start > pos) this.feed(chunk.subarray(pos - offset, start - offset));
      pos = Math.min(stop, end);
    }
    if (pos < end) this.feed(chunk.subarray(pos - offset));
  }

  private feed(bytes: Buffer): void {
    for (const [, h] of this.hashes) h.update(bytes);
  }

  digests(): Map<string, Buffer> {
    return new Map(this.hashes.map(([a, h]) => [a, h.digest()]));
  }
}

/** The image digest in each algorithm, in one bounded pass over the file. */
export async function imageDigests(
  layout: PeLayout,
  source: PeSource,
  algorithms: string[],
): Promise<Map<string, Buffer>> {
  const d = new ImageDigester(layout, algorithms);
  for (let pos = 0; pos < layout.fileSize; pos += CHUNK) {
    d.update(await source.read(pos, Math.min(CHUNK, layout.fileSize - pos)), pos);
  }
  return d.digests();
}
