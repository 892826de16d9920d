/**
 * A TUF repository (The Update Framework specification 1.0) that delivers an instance's trust material the way
 * Sigstore's own repository does, so the official clients bootstrap trust in a vouch instance from one pinned
 * `root.json` and the mirror URL: targets `trusted_root.json` and `signing_config.v0.2.json`, consistent snapshots
 * (`N.root.json`, `N.targets.json`, `N.snapshot.json`, `targets/<sha256>.<name>`), one ECDSA P-256 key per top-level
 * role, threshold 1.
 *
 * Metadata are the @tufjs/models classes the tuf-js client itself parses; each role is signed over the OLPC
 * canonical JSON of its `signed` object, as the specification's file formats require. Versions only grow (they are
 * read back from the store at start), so no client that saw a version ever sees an older one (rollback protection,
 * client workflow 5.3-5.6). Every role is re-signed with the next version before it expires: when less than half its
 * lifetime is left, checked on each request and by the stack's timer.
 */
import { createHash, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { canonicalize } from '@tufjs/canonical-json';
import {
  Key,
  Metadata,
  MetadataKind,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import { VouchError } from '../../errors.ts';
import type { TufStore } from './store.ts';

export type TufRole = 'root' | 'targets' | 'snapshot' | 'timestamp';
export const TUF_ROLES: readonly TufRole[] = ['root', 'targets', 'snapshot', 'timestamp'];

/** The targets Sigstore clients look up (sigstore-js @sigstore/tuf, sigstore-go, cosign). */
export const TRUSTED_ROOT_TARGET = 'trusted_root.json';
export const SIGNING_CONFIG_TARGET = 'signing_config.v0.2.json';

/** The specification version the metadata declare: the one tuf-js (and @tufjs/models) implement. */
const SPEC_VERSION = '1.0.31';

const DAY = 24 * 3600 * 1000;

/** How long each role's metadata is valid once signed. Short-lived roles bound how long a stolen mirror can lie. */
export const DEFAULT_LIFETIMES: Readonly<Record<TufRole, number>> = {
  root: 365 * DAY,
  targets: 90 * DAY,
  snapshot: 30 * DAY,
  timestamp: 7 * DAY,
};

export interface TufRepositoryOptions {
  store: TufStore;
  /** The private key of each top-level role (ECDSA P-256). */
  keys: Record<TufRole, KeyObject>;
  /** Target files by name (e.g. trusted_root.json); a change is published as a new targets version. */
  targets: Record<string, Buffer>;
  clock?: () => Date;
  lifetimes?: Partial<Record<TufRole, number>>;
}

type AnyMetadata = Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

interface RoleKey {
  key: Key;
  privateKey: KeyObject;
}

/** TUF's `expires` is `YYYY-MM-DDTHH:MM:SSZ`: strict clients (python-tuf, go-tuf) reject fractional seconds. */
function tufTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The public key in TUF's form; its id is the SHA-256 of the key object's canonical JSON, as TUF tooling computes it. */
function tufKey(privateKey: KeyObject): RoleKey {
  const pem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }) as string;
  const fields = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } };
  const keyID = createHash('sha256').update(canonicalize(fields)).digest('hex');
  return { key: new Key({ keyID, keyType: fields.keytype, scheme: fields.scheme, keyVal: fields.keyval }), privateKey };
}

function serialize(md: AnyMetadata): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON(), null, 2)}\n`);
}

function metaFile(version: number, bytes: Buffer): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: sha256(bytes) } });
}

export class TufRepository {
  private readonly store: TufStore;
  private readonly clock: () => Date;
  private readonly lifetimes: Record<TufRole, number>;
  private readonly keys: Record<TufRole, RoleKey>;
  private readonly files: Map<string, Buffer>;
  private root!: Metadata<Root>;
  private targets?: Metadata<Targets>;
  private snapshot?: Metadata<Snapshot>;
  private timestamp?: Metadata<Timestamp>;
  /** Roles whose current metadata must be re-signed whatever their expiry (signed by a key the root replaced). */
  private readonly stale = new Set<TufRole>();
  private nextDue = 0;

  private constructor(o: TufRepositoryOptions) {
    this.store = o.store;
    this.clock = o.clock ?? (() => new Date());
    this.lifetimes = { ...DEFAULT_LIFETIMES, ...o.lifetimes };
    this.keys = {
      root: tufKey(o.keys.root),
      targets: tufKey(o.keys.targets),
      snapshot: tufKey(o.keys.snapshot),
      timestamp: tufKey(o.keys.timestamp),
    };
    this.files = o.store.load();
  }

  /** Load the published state (or create root version 1), publish the targets if they changed, refresh what is due. */
  static open(o: TufRepositoryOptions): TufRepository {
    const repo = new TufRepository(o);
    repo.load();
    repo.publishTargets(o.targets);
    repo.refresh();
    return repo;
  }

  /** The bytes of a published file (`N.root.json`, `timestamp.json`, `targets/<sha256>.<name>`, ...), if any. */
  file(name: string): Buffer | undefined {
    return this.files.get(name);
  }

  /** Root version 1, the file clients pin (later roots are reached from it, each signed by its predecessor's keys). */
  initialRoot(): Buffer {
    return this.files.get('1.root.json')!;
  }

  /** The current version of each role. */
  versions(): Record<TufRole, number> {
    return {
      root: this.root.signed.version,
      targets: this.targets?.signed.version ?? 0,
      snapshot: this.snapshot?.signed.version ?? 0,
      timestamp: this.timestamp?.signed.version ?? 0,
    };
  }

  /** When each role's current metadata expires. */
  expiries(): Record<TufRole, Date> {
    return {
      root: new Date(this.root.signed.expires),
      targets: new Date(this.targets!.signed.expires),
      snapshot: new Date(this.snapshot!.signed.expires),
      timestamp: new Date(this.timestamp!.signed.expires),
    };
  }

  /** Re-sign, each with its next version, the roles with less than half their lifetime left; returns those roles. */
  refresh(): TufRole[] {
    const now = this.clock().getTime();
    const due = (md: AnyMetadata | undefined, role: TufRole) =>
      md === undefined ||
      this.stale.has(role) ||
      new Date(md.signed.expires).getTime() - now < this.lifetimes[role] / 2;
    const done: TufRole[] = [];
    if (due(this.root, 'root')) {
      this.publishRoot(this.nextVersion('root'));
      done.push('root');
    }
    // A new targets version needs a new snapshot, which needs a new timestamp (client workflow 5.4-5.6).
    let cascade = false;
    if (due(this.targets, 'targets')) {
      this.publishTargetsMetadata(this.currentTargetFiles());
      done.push('targets');
      cascade = true;
    }
    if (cascade || due(this.snapshot, 'snapshot')) {
      this.publishSnapshot();
      done.push('snapshot');
      cascade = true;
    }
    if (cascade || due(this.timestamp, 'timestamp')) {
      this.publishTimestamp();
      done.push('timestamp');
    }
    const expiries = this.expiries();
    this.nextDue = Math.min(...TUF_ROLES.map((r) => expiries[r].getTime() - this.lifetimes[r] / 2));
    return done;
  }

  /** `refresh()` only when some role is due: cheap enough to call on every request. */
  refreshIfDue(): void {
    if (this.clock().getTime() >= this.nextDue) this.refresh();
  }

  /** Publish these target files, as a new targets version (then snapshot and timestamp) unless nothing changed. */
  publishTargets(files: Record<string, Buffer>): void {
    const wanted = new Map(Object.entries(files).map(([name, bytes]) => [name, { bytes, hash: sha256(bytes) }]));
    const current = this.targets?.signed.targets ?? {};
    const same =
      Object.keys(current).length === wanted.size &&
      [...wanted].every(
        ([name, w]) => current[name]?.hashes.sha256 === w.hash && current[name]?.length === w.bytes.length,
      );
    if (same) return;
    for (const [name, w] of wanted) this.put(`targets/${w.hash}.${name}`, w.bytes);
    this.publishTargetsMetadata(
      [...wanted].map(
        ([name, w]) => new TargetFile({ path: name, length: w.bytes.length, hashes: { sha256: w.hash } }),
      ),
    );
    this.publishSnapshot();
    this.publishTimestamp();
    this.nextDue = 0;
  }

  private load(): void {
    const rootVersions = [...this.files.keys()]
      .map((n) => /^([0-9]+)\.root\.json$/.exec(n)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    if (rootVersions.length === 0) {
      this.publishRoot(1);
      return;
    }
    // Root versions are published one by one from 1; the highest is the current one (the chain is checked below).
    const latest = rootVersions[rootVersions.length - 1]!;
    this.root = this.parseIfPresent(MetadataKind.Root, `${latest}.root.json`)!;
    const root = this.root.signed;
    const signedBy = (role: TufRole) => root.roles[role]?.keyIDs.includes(this.keys[role].key.keyID) === true;
    if (!signedBy('root')) {
      throw new VouchError(
        'CONFIG_INVALID',
        `the TUF root key does not match ${latest}.root.json: clients that pinned this repository would refuse every update`,
        { hint: 'Restore the tuf-root.key this repository was created with in the keys folder of the data directory.' },
      );
    }
    this.timestamp = this.parseIfPresent(MetadataKind.Timestamp, 'timestamp.json');
    const sv = this.timestamp?.signed.snapshotMeta.version;
    this.snapshot = sv === undefined ? undefined : this.parseIfPresent(MetadataKind.Snapshot, `${sv}.snapshot.json`);
    const tv = this.snapshot?.signed.meta['targets.json']?.version;
    this.targets = tv === undefined ? undefined : this.parseIfPresent(MetadataKind.Targets, `${tv}.targets.json`);
    // Metadata signed by a key the current root no longer lists must be re-signed before clients see it.
    for (const [role, md] of [
      ['targets', this.targets],
      ['snapshot', this.snapshot],
      ['timestamp', this.timestamp],
    ] as const) {
      if (md && md.signatures[this.keys[role].key.keyID] === undefined) this.stale.add(role);
    }
    this.checkPublished();
    // A role key that changed (a lost key file recreated) is rotated in by a new root, signed with the root key.
    if (!TUF_ROLES.every(signedBy)) this.publishRoot(this.nextVersion('root'));
  }

  /**
   * One more than the highest version published under this role's name: a crash between publishing targets and the
   * timestamp that names them leaves a file no snapshot names, and its number must not be reused for other bytes.
   */
  private nextVersion(role: 'root' | 'targets' | 'snapshot'): number {
    let max = 0;
    for (const name of this.files.keys()) {
      const m = /^([0-9]+)\.([a-z]+)\.json$/.exec(name);
      if (m?.[2] === role) max = Math.max(max, Number(m[1]));
    }
    return max + 1;
  }

  /**
   * What is about to be served again must be what this repository signed: a file changed in the data folder would
   * otherwise reach clients, which would refuse it (or worse, a partial edit could go unnoticed until then).
   */
  private checkPublished(): void {
    const fail = (name: string, cause: unknown) =>
      new VouchError('CONFIG_INVALID', `the TUF repository file ${name} does not verify: it was modified`, {
        cause,
        hint: 'Restore the data folder from a backup; metadata clients already hold cannot be rewritten.',
      });
    const check = (name: string, f: () => void) => {
      try {
        f();
      } catch (e) {
        throw fail(name, e);
      }
    };
    // The whole root chain: clients that pinned version 1 walk it, each version signed by its predecessor's root
    // keys and its own (client workflow 5.3.4-5.3.5).
    let previous: Metadata<Root> | undefined;
    for (let v = 1; v <= this.root.signed.version; v++) {
      const name = `${v}.root.json`;
      const md = v === this.root.signed.version ? this.root : this.parseIfPresent(MetadataKind.Root, name);
      check(name, () => {
        if (md === undefined) throw new Error('missing: the root chain has a gap');
        if (md.signed.version !== v) throw new Error(`holds version ${md.signed.version}`);
        previous?.verifyDelegate('root', md);
        md.verifyDelegate('root', md);
      });
      previous = md;
    }
    const root = this.root;
    const { targets, snapshot, timestamp } = this;
    if (targets && !this.stale.has('targets')) {
      check(`${targets.signed.version}.targets.json`, () => root.verifyDelegate('targets', targets));
      for (const t of Object.values(targets.signed.targets)) {
        const name = `targets/${t.hashes.sha256}.${t.path}`;
        const bytes = this.files.get(name);
        check(name, () => {
          if (bytes === undefined || bytes.length !== t.length || sha256(bytes) !== t.hashes.sha256)
            throw new Error('missing, or not the bytes targets.json names');
        });
      }
    }
    if (snapshot && !this.stale.has('snapshot')) {
      const name = `${snapshot.signed.version}.snapshot.json`;
      check(name, () => root.verifyDelegate('snapshot', snapshot));
      if (targets) {
        const t = `${targets.signed.version}.targets.json`;
        check(t, () => snapshot.signed.meta['targets.json']!.verify(this.files.get(t)!));
      }
    }
    if (timestamp && !this.stale.has('timestamp')) {
      check('timestamp.json', () => root.verifyDelegate('timestamp', timestamp));
      if (snapshot) {
        const n = `${snapshot.signed.version}.snapshot.json`;
        check(n, () => timestamp.signed.snapshotMeta.verify(this.files.get(n)!));
      }
    }
  }

  private parseIfPresent(kind: MetadataKind.Root, name: string): Metadata<Root> | undefined;
  private parseIfPresent(kind: MetadataKind.Targets, name: string): Metadata<Targets> | undefined;
  private parseIfPresent(kind: MetadataKind.Snapshot, name: string): Metadata<Snapshot> | undefined;
  private parseIfPresent(kind: MetadataKind.Timestamp, name: string): Metadata<Timestamp> | undefined;
  private parseIfPresent(kind: MetadataKind, name: string): AnyMetadata | undefined;
  private parseIfPresent(kind: MetadataKind, name: string): AnyMetadata | undefined {
    const bytes = this.files.get(name);
    if (bytes === undefined) return undefined;
    try {
      return Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      throw new VouchError('CONFIG_INVALID', `the TUF repository file ${name} is not valid ${kind} metadata`, {
        cause: e,
      });
    }
  }

  private expires(role: TufRole): string {
    return tufTime(this.clock().getTime() + this.lifetimes[role]);
  }

  private signAndPut(md: AnyMetadata, role: TufRole, name: string): Buffer {
    const { key, privateKey } = this.keys[role];
    md.sign(
      (data) => new Signature({ keyID: key.keyID, sig: sign('sha256', data, privateKey).toString('hex') }),
      false,
    );
    const bytes = serialize(md);
    this.put(name, bytes);
    return bytes;
  }

  private publishRoot(version: number): void {
    const signed = new Root({
      version,
      specVersion: SPEC_VERSION,
      expires: this.expires('root'),
      consistentSnapshot: true,
    });
    // Root starts with every top-level role at threshold 1 and no key; each gets its own.
    for (const role of TUF_ROLES) signed.addKey(this.keys[role].key, role);
    const md = new Metadata(signed);
    // A new root must carry a threshold of signatures of the previous root's keys as well as its own (client
    // workflow 5.3.4-5.3.5); a key rotation leaves the root key in place, so one signature satisfies both.
    this.signAndPut(md, 'root', `${version}.root.json`);
    this.root = md;
  }

  private currentTargetFiles(): TargetFile[] {
    return Object.values(this.targets?.signed.targets ?? {});
  }

  private publishTargetsMetadata(files: TargetFile[]): void {
    const version = this.nextVersion('targets');
    const targets: Record<string, TargetFile> = {};
    for (const f of files) targets[f.path] = f;
    const md = new Metadata(
      new Targets({ version, specVersion: SPEC_VERSION, expires: this.expires('targets'), targets }),
    );
    this.signAndPut(md, 'targets', `${version}.targets.json`);
    this.targets = md;
    this.stale.delete('targets');
  }

  private publishSnapshot(): void {
    const version = this.nextVersion('snapshot');
    const targetsVersion = this.targets!.signed.version;
    const targetsBytes = this.files.get(`${targetsVersion}.targets.json`)!;
    const md = new Metadata(
      new Snapshot({
        version,
        specVersion: SPEC_VERSION,
        expires: this.expires('snapshot'),
        meta: { 'targets.json': metaFile(targetsVersion, targetsBytes) },
      }),
    );
    this.signAndPut(md, 'snapshot', `${version}.snapshot.json`);
    this.snapshot = md;
    this.stale.delete('snapshot');
  }

  private publishTimestamp(): void {
    const version = (this.timestamp?.signed.version ?? 0) + 1;
    const snapshotVersion = this.snapshot!.signed.version;
    const snapshotBytes = this.files.get(`${snapshotVersion}.snapshot.json`)!;
    const md = new Metadata(
      new Timestamp({
        version,
        specVersion: SPEC_VERSION,
        expires: this.expires('timestamp'),
        snapshotMeta: metaFile(snapshotVersion, snapshotBytes),
      }),
    );
    this.signAndPut(md, 'timestamp', 'timestamp.json');
    this.timestamp = md;
    this.stale.delete('timestamp');
  }

  private put(name: string, bytes: Buffer): void {
    this.store.put(name, bytes);
    this.files.set(name, bytes);
  }
}
