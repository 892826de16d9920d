/**
 * The TUF repository against the official Sigstore TUF client (@sigstore/tuf over tuf-js, the code sigstore-js
 * verifies with), on a real socket: what it publishes is accepted, what a hostile mirror changes is refused, expired
 * metadata is refused until a refresh re-signs it, and refresh before expiry runs on an injected clock. Files changed
 * in the data folder are refused at start (one row per case).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { initTUF, type TUFError } from '@sigstore/tuf';
import { createHttpServer } from '../../src/server/http.ts';
import { type RouteRequest, type RouteResponse, Router, request } from '../../src/server/routes.ts';
import {
  DEFAULT_LIFETIMES,
  SIGNING_CONFIG_TARGET,
  TRUSTED_ROOT_TARGET,
  TUF_ROLES,
  TufRepository,
  type TufRole,
} from '../../src/server/tuf/repository.ts';
import { tufRoutes } from '../../src/server/tuf/routes.ts';
import { DirectoryTufStore } from '../../src/server/tuf/store.ts';

const DAY = 24 * 3600 * 1000;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'vouch-tuf-'));
  dirs.push(d);
  return d;
}

function newKeys(): Record<TufRole, KeyObject> {
  const k = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return { root: k(), targets: k(), snapshot: k(), timestamp: k() };
}

const TARGETS = {
  [TRUSTED_ROOT_TARGET]: Buffer.from('{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}\n'),
  [SIGNING_CONFIG_TARGET]: Buffer.from('{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}\n'),
};

interface Fixture {
  dir: string;
  keys: Record<TufRole, KeyObject>;
  now: { t: number };
  repo: TufRepository;
  open(targets?: Record<string, Buffer>): TufRepository;
}

function fixture(start = Date.now()): Fixture {
  const dir = tmp();
  const keys = newKeys();
  const now = { t: start };
  const f: Fixture = {
    dir,
    keys,
    now,
    repo: undefined as unknown as TufRepository,
    open(targets = TARGETS) {
      f.repo = TufRepository.open({
        store: new DirectoryTufStore(join(dir, 'repository')),
        keys: f.keys,
        targets,
        clock: () => new Date(now.t),
      });
      return f.repo;
    },
  };
  f.open();
  return f;
}

/** A router that passes every answer of the real one through `tamper`: a hostile mirror or CDN. */
class MirrorRouter extends Router {
  private readonly real: Pick<Router, 'dispatch'>;
  private readonly tamper: (path: string, res: RouteResponse) => RouteResponse;
  constructor(real: Pick<Router, 'dispatch'>, tamper: (path: string, res: RouteResponse) => RouteResponse) {
    super([]);
    this.real = real;
    this.tamper = tamper;
  }
  override async dispatch(req: RouteRequest): Promise<RouteResponse> {
    return this.tamper(req.path, await this.real.dispatch(req));
  }
}

/** Serve `repo` under /tuf on 127.0.0.1:0 (through `tamper` if given); returns the mirror URL and a closer. */
async function listen(
  repo: () => TufRepository,
  tamper?: (path: string, res: RouteResponse) => RouteResponse,
): Promise<{ mirror: string; close: () => Promise<void> }> {
  // The routes are built per request so a reopened repository is served at the same URL.
  const real = { dispatch: (req: RouteRequest) => new Router(tufRoutes(repo())).dispatch(req) };
  const router = tamper ? new MirrorRouter(real, tamper) : new MirrorRouter(real, (_p, r) => r);
  const app = createHttpServer([{ prefix: '/tuf', router }]);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { mirror: `http://127.0.0.1:${port}/tuf`, close: () => app.close() };
}

/** The official client: pin `rootPath`, refresh from the mirror, read a target. */
async function fetchTarget(mirror: string, rootPath: string, cachePath: string, target = TRUSTED_ROOT_TARGET) {
  const client = await initTUF({ mirrorURL: mirror, rootPath, cachePath, retry: { retries: 0 }, timeout: 5000 });
  return client.getTarget(target);
}

function pin(f: Fixture): string {
  const path = join(f.dir, 'root.json');
  writeFileSync(path, f.repo.initialRoot());
  return path;
}

/**
 * The client's refusal: the tuf-js error class (inside @sigstore/tuf's TUFError when it wraps one) and its message.
 * tuf-js reports a bad snapshot or targets file as a RuntimeError naming the file's role.
 */
async function refused(p: Promise<unknown>): Promise<{ error: string; message: string }> {
  const e = await p.then(
    () => assert.fail('the client accepted the repository'),
    (e: unknown) => e as TUFError,
  );
  const inner = (e.cause instanceof Error ? e.cause : e) as Error;
  return { error: inner.constructor.name, message: inner.message };
}

describe('TUF repository with the official client', () => {
  it('publishes root 1, targets, snapshot and timestamp that the client accepts; targets come back byte for byte', async () => {
    const f = fixture();
    assert.deepEqual(f.repo.versions(), { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
    const root = JSON.parse(f.repo.initialRoot().toString()) as { signed: Record<string, unknown> };
    assert.equal(root.signed.consistent_snapshot, true);
    assert.match(String(root.signed.expires), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const server = await listen(() => f.repo);
    try {
      const cache = join(f.dir, 'cache');
      assert.equal(await fetchTarget(server.mirror, pin(f), cache), TARGETS[TRUSTED_ROOT_TARGET].toString());
      assert.equal(
        await fetchTarget(server.mirror, pin(f), cache, SIGNING_CONFIG_TARGET),
        TARGETS[SIGNING_CONFIG_TARGET].toString(),
      );
    } finally {
      await server.close();
    }
  });

  it('keeps its versions across restarts and publishes changed targets as the next versions', async () => {
    const f = fixture();
    const server = await listen(() => f.repo);
    try {
      const cache = join(f.dir, 'cache');
      const rootPath = pin(f);
      await fetchTarget(server.mirror, rootPath, cache);
      f.open();
      assert.deepEqual(f.repo.versions(), { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
      const changed = { ...TARGETS, [TRUSTED_ROOT_TARGET]: Buffer.from('{"changed":true}\n') };
      f.open(changed);
      assert.deepEqual(f.repo.versions(), { root: 1, targets: 2, snapshot: 2, timestamp: 2 });
      // The same client (its cache holds version 1 of everything) updates to the new target.
      assert.equal(await fetchTarget(server.mirror, rootPath, cache), '{"changed":true}\n');
    } finally {
      await server.close();
    }
  });

  it('re-signs each role with its next version when less than half its lifetime is left (injected clock)', () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const f = fixture(t0);
    const half = (r: TufRole) => DEFAULT_LIFETIMES[r] / 2;
    const rows: { at: number; resigned: TufRole[] }[] = [
      { at: half('timestamp') - 60_000, resigned: [] },
      { at: half('timestamp') + 60_000, resigned: ['timestamp'] },
      { at: half('timestamp') + 120_000, resigned: [] },
      { at: half('snapshot') + 60_000, resigned: ['snapshot', 'timestamp'] },
      { at: half('targets') + 60_000, resigned: ['targets', 'snapshot', 'timestamp'] },
      { at: half('root') + 60_000, resigned: ['root', 'targets', 'snapshot', 'timestamp'] },
    ];
    for (const row of rows) {
      const before = f.repo.versions();
      const expiries = f.repo.expiries();
      f.now.t = t0 + row.at;
      assert.deepEqual(f.repo.refresh(), row.resigned, `at +${row.at / DAY} days`);
      const after = f.repo.versions();
      for (const r of TUF_ROLES) {
        const resigned = row.resigned.includes(r);
        assert.equal(after[r], before[r] + (resigned ? 1 : 0), `${r} version at +${row.at / DAY} days`);
        if (resigned)
          assert.equal(f.repo.expiries()[r].getTime(), Math.floor((f.now.t + DEFAULT_LIFETIMES[r]) / 1000) * 1000);
        else assert.deepEqual(f.repo.expiries()[r], expiries[r]);
      }
    }
  });

  it("checked hourly for two years (as the stack's timer does), nothing is ever served expired", () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const f = fixture(t0);
    let last = f.repo.versions();
    for (let h = 1; h <= 2 * 365 * 24; h++) {
      f.now.t = t0 + h * 3600_000;
      f.repo.refreshIfDue();
      const v = f.repo.versions();
      for (const r of TUF_ROLES) {
        assert.ok(f.repo.expiries()[r].getTime() - f.now.t >= DEFAULT_LIFETIMES[r] / 2 - 3600_000, `${r} at hour ${h}`);
        assert.ok(v[r] >= last[r]);
      }
      last = v;
    }
    // Re-signed when due, not at every check: a few hundred signatures over 17,520 checks.
    assert.ok(last.root + last.targets + last.snapshot + last.timestamp < 400, JSON.stringify(last));
  });

  it('re-signs what is due before answering a request, so a server that slept never serves expired metadata', async () => {
    const f = fixture(Date.parse('2026-01-01T00:00:00Z'));
    const router = new Router(tufRoutes(f.repo));
    f.now.t += 10 * DAY; // past the timestamp's expiry: no timer ran
    const res = await router.dispatch(request('GET', '/timestamp.json'));
    assert.equal(res.status, 200);
    const ts = JSON.parse((res.body as Buffer).toString()) as { signed: { version: number; expires: string } };
    assert.equal(ts.signed.version, 2);
    assert.ok(Date.parse(ts.signed.expires) > f.now.t);
  });

  it('serves expired metadata only until a refresh: the client refuses it, then accepts the re-signed versions', async () => {
    // Signed 40 days ago by a server whose clock stays there (nothing is due in its eyes): the timestamp (7 days)
    // and the snapshot (30 days) have expired by the client's clock, the targets (90 days) and root have not.
    const f = fixture(Date.now() - 40 * DAY);
    const server = await listen(() => f.repo);
    try {
      const cache = join(f.dir, 'cache');
      const rootPath = pin(f);
      assert.equal((await refused(fetchTarget(server.mirror, rootPath, cache))).error, 'ExpiredMetadataError');
      f.now.t = Date.now();
      assert.deepEqual(f.repo.refresh(), ['snapshot', 'timestamp']);
      assert.equal(await fetchTarget(server.mirror, rootPath, cache), TARGETS[TRUSTED_ROOT_TARGET].toString());
    } finally {
      await server.close();
    }
  });

  it('rotates a replaced role key in with root version 2, which a client pinned to version 1 follows', async () => {
    const f = fixture();
    const rootPath = pin(f);
    f.keys = { ...f.keys, timestamp: newKeys().timestamp };
    f.open();
    assert.deepEqual(f.repo.versions(), { root: 2, targets: 1, snapshot: 1, timestamp: 2 });
    const server = await listen(() => f.repo);
    try {
      assert.equal(
        await fetchTarget(server.mirror, rootPath, join(f.dir, 'cache')),
        TARGETS[TRUSTED_ROOT_TARGET].toString(),
      );
    } finally {
      await server.close();
    }
  });
});

/** Replace `from` with `to` in the body of the file at `path`; other answers pass unchanged. */
function edit(path: RegExp, from: RegExp, to: string) {
  return (p: string, res: RouteResponse): RouteResponse => {
    if (!path.test(p) || !Buffer.isBuffer(res.body)) return res;
    const text = res.body.toString();
    assert.match(text, from, `the mirror found nothing to change in ${p}`);
    return { ...res, body: Buffer.from(text.replace(from, to)) };
  };
}

describe('a hostile mirror: the official client refuses what it changes', () => {
  const other = fixture(); // another repository: its keys are an attacker's
  const rows: {
    name: string;
    tamper: (f: Fixture) => (path: string, res: RouteResponse) => RouteResponse;
    error: string;
    message?: RegExp;
  }[] = [
    {
      name: 'timestamp.json with a later expiry (its signature no longer matches)',
      tamper: () => edit(/^\/timestamp\.json$/, /"expires": "\d{4}/, '"expires": "2999'),
      error: 'UnsignedMetadataError',
    },
    {
      name: 'snapshot with another version number (length and hash differ from the timestamp)',
      tamper: () => edit(/^\/1\.snapshot\.json$/, /"version": 1,/, '"version": 1 ,'),
      error: 'RuntimeError',
      message: /snapshot/,
    },
    {
      name: 'targets listing another hash for trusted_root.json',
      tamper: () => edit(/^\/1\.targets\.json$/, /"sha256": "[0-9a-f]/, '"sha256": "x'),
      error: 'RuntimeError',
      message: /targets/,
    },
    {
      name: 'trusted_root.json with one byte changed',
      tamper: () => edit(/trusted_root\.json$/, /trustedroot/, 'trustedRoot'),
      error: 'LengthOrHashMismatchError',
    },
    {
      name: 'a root version 2 signed by other keys',
      tamper: () => (p, res) =>
        p === '/2.root.json'
          ? {
              status: 200,
              headers: { 'content-type': 'application/json' },
              body: Buffer.from(
                other.repo
                  .initialRoot()
                  .toString()
                  .replace(/"version": 1/, '"version": 2'),
              ),
            }
          : res,
      error: 'UnsignedMetadataError',
    },
    {
      name: 'a timestamp signed by the snapshot key (right format, wrong role key)',
      tamper: (f) => (p, res) => {
        if (p !== '/timestamp.json') return res;
        const forged = JSON.parse((res.body as Buffer).toString()) as { signatures: { keyid: string }[] };
        const root = JSON.parse(f.repo.initialRoot().toString()) as {
          signed: { roles: Record<string, { keyids: string[] }> };
        };
        forged.signatures[0]!.keyid = root.signed.roles.snapshot!.keyids[0]!;
        return { ...res, body: Buffer.from(JSON.stringify(forged)) };
      },
      error: 'UnsignedMetadataError',
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const f = fixture();
      const server = await listen(() => f.repo, row.tamper(f));
      try {
        const e = await refused(fetchTarget(server.mirror, pin(f), join(f.dir, 'cache')));
        assert.equal(e.error, row.error, e.message);
        if (row.message) assert.match(e.message, row.message);
      } finally {
        await server.close();
      }
    });
  }

  it('an older timestamp after the client saw a newer one (rollback)', async () => {
    const f = fixture();
    const old = f.repo.file('timestamp.json')!;
    let rollback = false;
    const server = await listen(
      () => f.repo,
      (p, res) => (rollback && p === '/timestamp.json' ? { ...res, body: old } : res),
    );
    try {
      const cache = join(f.dir, 'cache');
      const rootPath = pin(f);
      f.now.t += DEFAULT_LIFETIMES.timestamp; // the next request re-signs: timestamp version 2
      await fetchTarget(server.mirror, rootPath, cache);
      rollback = true;
      assert.equal((await refused(fetchTarget(server.mirror, rootPath, cache))).error, 'BadVersionError');
    } finally {
      await server.close();
    }
  });
});

describe('TUF routes', () => {
  const f = fixture();
  const router = new Router(tufRoutes(f.repo));
  const rows: { method: string; path: string; status: number }[] = [
    { method: 'GET', path: '/1.root.json', status: 200 },
    { method: 'GET', path: '/timestamp.json', status: 200 },
    { method: 'GET', path: '/1.snapshot.json', status: 200 },
    { method: 'GET', path: '/1.targets.json', status: 200 },
    { method: 'GET', path: '/2.root.json', status: 404 }, // the end of the root chain
    { method: 'GET', path: '/0.root.json', status: 404 },
    { method: 'GET', path: '/01.root.json', status: 404 },
    { method: 'GET', path: '/root.json', status: 404 },
    { method: 'GET', path: '/snapshot.json', status: 404 }, // consistent snapshots only
    { method: 'GET', path: '/..%2Fkeys%2Ftuf-root.key', status: 404 },
    { method: 'GET', path: '/../keys/tuf-root.key', status: 404 },
    { method: 'GET', path: '/targets/trusted_root.json', status: 404 },
    { method: 'GET', path: `/targets/${'0'.repeat(64)}.trusted_root.json`, status: 404 },
    { method: 'GET', path: '/targets/..%2F1.root.json', status: 404 },
    { method: 'POST', path: '/timestamp.json', status: 405 },
  ];
  for (const row of rows) {
    it(`${row.method} ${row.path} -> ${row.status}`, async () => {
      const res = await router.dispatch(request(row.method, row.path));
      assert.equal(res.status, row.status);
    });
  }

  it('serves each target under its SHA-256, as the targets metadata names it', async () => {
    const targets = JSON.parse(f.repo.file('1.targets.json')!.toString()) as {
      signed: { targets: Record<string, { hashes: { sha256: string } }> };
    };
    for (const [name, bytes] of Object.entries(TARGETS)) {
      const hash = targets.signed.targets[name]!.hashes.sha256;
      const res = await router.dispatch(request('GET', `/targets/${hash}.${name}`));
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, bytes);
    }
  });
});

describe('a data folder changed on disk is refused at start', () => {
  const rows: { name: string; change: (f: Fixture) => void }[] = [
    {
      name: 'timestamp.json edited',
      change: (f) => {
        const p = join(f.dir, 'repository', 'timestamp.json');
        writeFileSync(p, readFileSync(p, 'utf8').replace(/"expires": "\d{4}/, '"expires": "2999'));
      },
    },
    {
      name: 'a target file replaced',
      change: (f) => {
        const t = JSON.parse(f.repo.file('1.targets.json')!.toString()) as {
          signed: { targets: Record<string, { hashes: { sha256: string } }> };
        };
        const hash = t.signed.targets[TRUSTED_ROOT_TARGET]!.hashes.sha256;
        writeFileSync(join(f.dir, 'repository', 'targets', `${hash}.${TRUSTED_ROOT_TARGET}`), '{}');
      },
    },
    {
      name: 'a target file deleted',
      change: (f) => {
        const t = JSON.parse(f.repo.file('1.targets.json')!.toString()) as {
          signed: { targets: Record<string, { hashes: { sha256: string } }> };
        };
        const hash = t.signed.targets[SIGNING_CONFIG_TARGET]!.hashes.sha256;
        unlinkSync(join(f.dir, 'repository', 'targets', `${hash}.${SIGNING_CONFIG_TARGET}`));
      },
    },
    {
      name: 'the snapshot re-serialized (same content, other bytes than the timestamp names)',
      change: (f) => {
        const p = join(f.dir, 'repository', '1.snapshot.json');
        writeFileSync(p, JSON.stringify(JSON.parse(readFileSync(p, 'utf8'))));
      },
    },
    {
      name: 'root version 1 removed while version 2 exists (a gap in the chain)',
      change: (f) => {
        f.keys = { ...f.keys, targets: newKeys().targets };
        f.open(); // publishes 2.root.json
        unlinkSync(join(f.dir, 'repository', '1.root.json'));
      },
    },
    {
      name: 'root version 1 replaced by another repository root',
      change: (f) => writeFileSync(join(f.dir, 'repository', '1.root.json'), fixture().repo.initialRoot()),
    },
    {
      name: 'the root key replaced',
      change: (f) => {
        f.keys = { ...f.keys, root: newKeys().root };
      },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const f = fixture();
      row.change(f);
      assert.throws(
        () => f.open(),
        (e: { code?: string }) => e.code === 'CONFIG_INVALID',
      );
    });
  }
});
