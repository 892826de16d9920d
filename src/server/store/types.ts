/**
 * Persistence of a transparency log. An append is one atomic, durable batch (entries + the complete-subtree node
 * hashes they create), so after a crash the store holds exactly the acknowledged prefix of the log and its tree.
 * Implementations: sqlite.ts (embedded default, node:sqlite) and postgres.ts (team server, `pg`).
 */
import type { NodeId } from '../../core/merkle.ts';

export interface StoredEntry {
  index: number;
  /** Merkle leaf hash of the body (Rekor's entry UUID). */
  leafHash: Buffer;
  /** Canonical entry body (the leaf data). */
  body: Buffer;
  /** Seconds since the epoch. */
  integratedTime: number;
  /** Signed entry timestamp (ECDSA signature by the log key). */
  set: Buffer;
}

export interface StoredNode extends NodeId {
  hash: Buffer;
}

export interface LogStore {
  /** Number of entries (the tree size). */
  size(): Promise<number>;
  /** Persist a batch durably in one transaction; entries are consecutive from the current size. */
  append(entries: readonly StoredEntry[], nodes: readonly StoredNode[]): Promise<void>;
  /** Hashes of complete subtrees, in the order asked; throws if one is missing (a corrupt store). */
  nodes(ids: readonly NodeId[]): Promise<Buffer[]>;
  byIndex(index: number): Promise<StoredEntry | undefined>;
  byLeafHash(leafHash: Buffer): Promise<StoredEntry | undefined>;
  /** Which of these leaf hashes (hex) are already in the log: one query for a whole batch. */
  existing(leafHashes: readonly Buffer[]): Promise<Set<string>>;
  /** Small persistent settings (tree id, origin). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
