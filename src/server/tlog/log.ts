/**
 * The transparency log domain object (Rekor v1 semantics): verified entries are appended to an RFC 6962 tree,
 * each answered with a signed entry timestamp (SET) and an inclusion proof against a signed checkpoint.
 *
 * Group commit: `add` validates and hashes the entry, then queues it; one committer drains the queue in batches, so
 * concurrent appends share one durable transaction (one fsync) instead of paying one each. The in-memory frontier
 * gives the root after a batch without reading the store; proofs read O(log n) stored subtree hashes.
 */
import { randomBytes, sign, verify as verifySignature } from 'node:crypto';
import { canonicalJson } from '../../core/json.ts';
import {
  consistencyRanges,
  EMPTY_ROOT,
  Frontier,
  foldRange,
  hashLeaf,
  inclusionRanges,
  type LeafRange,
  rangeNodes,
} from '../../core/merkle.ts';
import { VouchError } from '../../errors.ts';
import { keyId, type StackKey } from '../pki.ts';
import type { LogStore, StoredEntry, StoredNode } from '../store/types.ts';
import { canonicalizeProposedEntry } from './entries.ts';

export interface InclusionProofView {
  logIndex: number;
  rootHash: string;
  treeSize: number;
  hashes: string[];
  checkpoint: string;
}

/** One entry in Rekor v1's JSON shape (the value under the entry's UUID). */
export interface EntryView {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: { inclusionProof: InclusionProofView; signedEntryTimestamp: string };
}

export interface LogInfoView {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
  inactiveShards: never[];
}

export interface TransparencyLogOptions {
  store: LogStore;
  key: StackKey;
  /** Signer name on checkpoint signature lines; @sigstore/verify requires it to be a substring of the log's URL. */
  keyName: string;
  clock?: () => Date;
  /** Largest batch per transaction. */
  maxBatch?: number;
  /** Most entries waiting for a commit before new ones are refused with 503. */
  maxQueue?: number;
}

interface Pending {
  body: Buffer;
  leafHash: Buffer;
  resolve: (v: { uuid: string; entry: EntryView }) => void;
  reject: (e: unknown) => void;
}

/** The right edge of the stored tree: O(log n) node reads. */
async function loadFrontier(store: LogStore): Promise<Frontier> {
  const size = await store.size();
  const ids = Frontier.nodeIds(size);
  const hashes = await store.nodes(ids);
  return new Frontier(
    size,
    ids.map((id, i) => ({ level: id.level, hash: hashes[i]! })),
  );
}

/**
 * What a signed entry timestamp signs: the canonical JSON of {body, integratedTime, logID, logIndex}, as Rekor
 * computes it and @sigstore/verify recomputes it.
 */
function setPayload(body: Buffer, integratedTime: number, logIdHex: string, logIndex: number): Buffer {
  return Buffer.from(canonicalJson({ body: body.toString('base64'), integratedTime, logID: logIdHex, logIndex }));
}

/**
 * A log has one key for its whole life: every signed entry timestamp and checkpoint a client holds was made with it,
 * and verifiers pin it in their trusted root. The key (SPKI, base64) is recorded beside the origin when the log is
 * created, and a log opened with another key (a server pointed at an existing PostgreSQL schema with another
 * `--data` folder, or keys lost) refuses to start instead of signing new checkpoints over the old tree. A store
 * from before the key was recorded adopts the key only if its first entry's SET verifies with it.
 */
async function checkKey(store: LogStore, key: StackKey, origin: string): Promise<void> {
  const spki = key.spki.toString('base64');
  const mismatch = () =>
    new VouchError(
      'LOG_KEY_MISMATCH',
      `the log "${origin}" was created with another key than ${keyId(key.spki).toString('hex').slice(0, 16)}...`,
    );
  const recorded = await store.getMeta('public_key');
  if (recorded === spki) return;
  if (recorded !== undefined) throw mismatch();
  const first = (await store.size()) > 0 ? await store.byIndex(0) : undefined;
  if (first) {
    const payload = setPayload(first.body, first.integratedTime, keyId(key.spki).toString('hex'), 0);
    if (!verifySignature('sha256', payload, key.publicKey, first.set)) throw mismatch();
  }
  await store.setMeta('public_key', spki);
}

export class TransparencyLog {
  readonly store: LogStore;
  readonly logId: Buffer;
  readonly treeId: string;
  readonly origin: string;
  private readonly key: StackKey;
  private readonly keyName: string;
  private readonly clock: () => Date;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private frontier: Frontier;
  private queue: Pending[] = [];
  private committing: Promise<void> | undefined;
  private checkpointCache: { size: number; note: string } | undefined;
  private closed = false;

  private constructor(o: TransparencyLogOptions, frontier: Frontier, treeId: string, origin: string) {
    this.store = o.store;
    this.key = o.key;
    this.keyName = o.keyName;
    this.clock = o.clock ?? (() => new Date());
    this.maxBatch = o.maxBatch ?? 1000;
    this.maxQueue = o.maxQueue ?? 20_000;
    this.logId = keyId(o.key.spki);
    this.frontier = frontier;
    this.treeId = treeId;
    this.origin = origin;
    if (/\s/.test(o.keyName) || o.keyName === '')
      throw new VouchError('CONFIG_INVALID', 'log key name must be one word');
  }

  static async open(o: TransparencyLogOptions): Promise<TransparencyLog> {
    let treeId = await o.store.getMeta('tree_id');
    if (treeId === undefined) {
      // A positive int64 like Rekor's tree IDs.
      treeId = (randomBytes(8).readBigUInt64BE() >> 1n).toString();
      await o.store.setMeta('tree_id', treeId);
    }
    // C2SP tlog-checkpoint: the origin names the log for its whole life (Rekor: "<host> - <tree id>"), so it is
    // fixed at creation and kept even if the server later answers under another host name.
    let origin = await o.store.getMeta('origin');
    if (origin === undefined) {
      origin = `${o.keyName} - ${treeId}`;
      await o.store.setMeta('origin', origin);
    }
    await checkKey(o.store, o.key, origin);
    return new TransparencyLog(o, await loadFrontier(o.store), treeId, origin);
  }

  publicKeyDer(): Buffer {
    return this.key.spki;
  }

  get size(): number {
    return this.frontier.size;
  }

  /** Validate, verify and append a proposed entry; resolves once it is durable. Duplicates throw ENTRY_EXISTS. */
  async add(proposed: Record<string, unknown>): Promise<{ uuid: string; entry: EntryView }> {
    if (this.closed) throw new VouchError('SERVICE_UNAVAILABLE', 'the log is shutting down');
    // Bounded queue: under a flood, refuse (503, which clients retry) rather than buffer without limit.
    if (this.queue.length >= this.maxQueue) throw new VouchError('SERVICE_UNAVAILABLE', 'the log is overloaded');
    const { body } = canonicalizeProposedEntry(proposed);
    const leafHash = hashLeaf(body);
    return new Promise((resolve, reject) => {
      this.queue.push({ body, leafHash, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.committing) return;
    this.committing = (async () => {
      try {
        while (this.queue.length > 0) {
          // Yield to the event loop first so requests that arrived meanwhile join this batch.
          await new Promise<void>((r) => setImmediate(r));
          const batch = this.queue.splice(0, this.maxBatch);
          try {
            await this.commit(batch);
          } catch (e) {
            // Never let the committer die with an unhandled rejection; whoever is still waiting gets the error.
            for (const p of batch) p.reject(e);
          }
        }
      } finally {
        this.committing = undefined;
      }
    })();
  }

  private async commit(batch: Pending[]): Promise<void> {
    const accepted: { p: Pending; e: StoredEntry }[] = [];
    const seen = new Map<string, Pending>();
    // Rejected only after the batch is durable, so a twin admitted in this same batch can be fetched by then.
    const duplicates: { p: Pending; uuid: string }[] = [];
    const rejectDuplicates = () => {
      for (const { p, uuid } of duplicates) {
        p.reject(
          new VouchError('ENTRY_EXISTS', `an equivalent entry already exists in the log (${uuid})`, {
            details: { uuid, location: `/api/v1/log/entries/${uuid}` },
          }),
        );
      }
    };
    const nodes: StoredNode[] = [];
    const frontier = this.frontier.clone();
    const integratedTime = Math.floor(this.clock().getTime() / 1000);
    const logIdHex = this.logId.toString('hex');
    let existing: Set<string>;
    try {
      existing = await this.store.existing(batch.map((p) => p.leafHash));
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    for (const p of batch) {
      const uuid = p.leafHash.toString('hex');
      if (existing.has(uuid) || seen.has(uuid)) {
        duplicates.push({ p, uuid });
        continue;
      }
      seen.set(uuid, p);
      const index = frontier.size;
      const set = sign('sha256', setPayload(p.body, integratedTime, logIdHex, index), this.key.privateKey);
      for (const n of frontier.append(p.leafHash)) nodes.push(n);
      accepted.push({ p, e: { index, leafHash: p.leafHash, body: p.body, integratedTime, set } });
    }
    if (accepted.length === 0) {
      rejectDuplicates();
      return;
    }
    try {
      await this.store.append(
        accepted.map((a) => a.e),
        nodes,
      );
    } catch (e) {
      for (const a of accepted) a.p.reject(e);
      // A failed commit may still have landed (e.g. a lost COMMIT acknowledgement from PostgreSQL): re-read the
      // tree edge from the store so the next batch continues from what is really there. Clients that retry an
      // entry that did land get 409 and its location.
      try {
        this.frontier = await loadFrontier(this.store);
      } catch {
        // the store is unreachable; the next batch will fail and try again
      }
      return;
    }
    this.frontier = frontier;
    rejectDuplicates();
    for (const a of accepted) {
      try {
        a.p.resolve({ uuid: a.e.leafHash.toString('hex'), entry: await this.view(a.e, frontier.size) });
      } catch (e) {
        a.p.reject(e);
      }
    }
  }

  /** Root hash of the first `size` leaves, from stored subtrees (O(log n) reads). */
  async rootAt(size: number): Promise<Buffer> {
    if (size === 0) return Buffer.from(EMPTY_ROOT);
    if (size === this.frontier.size) return this.frontier.root();
    return this.rangeHash({ start: 0, end: size });
  }

  private async rangeHash(r: LeafRange): Promise<Buffer> {
    return foldRange(await this.store.nodes(rangeNodes(r)));
  }

  private async rangeHashes(ranges: LeafRange[]): Promise<Buffer[]> {
    const all = ranges.map(rangeNodes);
    const flat = await this.store.nodes(all.flat());
    let k = 0;
    return all.map((ids) => {
      const part = flat.slice(k, k + ids.length);
      k += ids.length;
      return foldRange(part);
    });
  }

  /** The signed checkpoint (C2SP signed note) for a tree size; the current size's note is cached. */
  async checkpoint(size: number): Promise<{ note: string; root: Buffer }> {
    const root = await this.rootAt(size);
    if (this.checkpointCache?.size === size) return { note: this.checkpointCache.note, root };
    const note = this.signNote(`${this.origin}\n${size}\n${root.toString('base64')}\n`);
    if (size === this.frontier.size) this.checkpointCache = { size, note };
    return { note, root };
  }

  /**
   * C2SP signed-note: body, blank line, then "— <name> base64(key hint || signature)". For ECDSA keys the key hint
   * is the first 4 bytes of SHA-256 of the DER SPKI, i.e. of the log ID, as Rekor v1 does and sigstore clients check.
   */
  private signNote(text: string): string {
    const sig = sign('sha256', Buffer.from(text, 'utf8'), this.key.privateKey);
    const blob = Buffer.concat([this.logId.subarray(0, 4), sig]).toString('base64');
    return `${text}\n\u2014 ${this.keyName} ${blob}\n`;
  }

  async inclusionProof(index: number, size: number): Promise<InclusionProofView> {
    const hashes = await this.rangeHashes(inclusionRanges(index, size));
    const { note, root } = await this.checkpoint(size);
    return {
      logIndex: index,
      rootHash: root.toString('hex'),
      treeSize: size,
      hashes: hashes.map((h) => h.toString('hex')),
      checkpoint: note,
    };
  }

  private async view(e: StoredEntry, size: number): Promise<EntryView> {
    return {
      body: e.body.toString('base64'),
      integratedTime: e.integratedTime,
      logID: this.logId.toString('hex'),
      logIndex: e.index,
      verification: {
        inclusionProof: await this.inclusionProof(e.index, size),
        signedEntryTimestamp: e.set.toString('base64'),
      },
    };
  }

  async getByIndex(index: number): Promise<{ uuid: string; entry: EntryView }> {
    const size = this.frontier.size;
    const e = index < size ? await this.store.byIndex(index) : undefined;
    if (!e) throw new VouchError('ENTRY_NOT_FOUND', `no entry at index ${index}`);
    return { uuid: e.leafHash.toString('hex'), entry: await this.view(e, size) };
  }

  async getByUuid(uuid: string): Promise<{ uuid: string; entry: EntryView }> {
    // Rekor UUIDs are the 64-hex leaf hash, optionally prefixed by a 16-hex tree id (80 hex in all).
    if (!/^([0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid)) throw new VouchError('REQUEST_INVALID', 'malformed entry UUID');
    if (uuid.length === 80 && uuid.slice(0, 16) !== BigInt(this.treeId).toString(16).padStart(16, '0')) {
      throw new VouchError('ENTRY_NOT_FOUND', 'no such entry in this log (tree ID differs)');
    }
    const e = await this.store.byLeafHash(Buffer.from(uuid.slice(-64), 'hex'));
    if (!e || e.index >= this.frontier.size) throw new VouchError('ENTRY_NOT_FOUND', 'no such entry');
    return { uuid: uuid.slice(-64), entry: await this.view(e, this.frontier.size) };
  }

  async info(): Promise<LogInfoView> {
    const size = this.frontier.size;
    const { note, root } = await this.checkpoint(size);
    return {
      rootHash: root.toString('hex'),
      treeSize: size,
      signedTreeHead: note,
      treeID: this.treeId,
      inactiveShards: [],
    };
  }

  /** RFC 6962 consistency proof between two sizes, with the root hash at `last`. */
  async consistency(first: number, last: number): Promise<{ rootHash: string; hashes: string[] }> {
    const size = this.frontier.size;
    if (!(first >= 1 && first <= last && last <= size)) {
      throw new VouchError('REQUEST_INVALID', `sizes must satisfy 1 <= firstSize <= lastSize <= ${size}`);
    }
    const hashes = await this.rangeHashes(consistencyRanges(first, last));
    return { rootHash: (await this.rootAt(last)).toString('hex'), hashes: hashes.map((h) => h.toString('hex')) };
  }

  /** Stop taking appends, wait for the queued ones to be committed. The caller closes the store. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.committing) await this.committing;
  }
}
