/**
 * A real npm registry with real trust material for vouch deps tests and benchmarks:
 *
 * - packages are written straight into verdaccio's storage (package.json + tarballs, its own on-disk format), which
 *   is how hundreds of them are published in a second and how publish times (`time`) are set, as key-expiry and
 *   history fixtures need; verdaccio (test/deps/verdaccio-server.ts) then serves them over HTTP as npm sees them;
 * - registry signatures are ECDSA P-256 over `name@version:integrity` with a test registry key whose keyid follows
 *   npm's rule (OpenSSH SHA256 fingerprint); a second key expired on 2021-01-01;
 * - provenance bundles are made by vouch's own trust stack (in-process): a GitHub-Actions-shaped token (signed by a
 *   test key the CA trusts for https://token.actions.githubusercontent.com) becomes a Fulcio certificate with the
 *   repository, numeric ids, workflow, ref and trigger extensions; the SLSA v1 statement is signed and logged;
 *   the npm publish attestation is signed by the registry key and logged too.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import * as tar from 'tar';
import { IN_TOTO_STATEMENT_V1 } from '../../src/core/intoto.ts';
import { mapLimit } from '../../src/deps/limit.ts';
import { startStack } from '../../src/server/stack.ts';
import { type SigningContext, signStatement } from '../../src/sign/bundle.ts';
import { FulcioClient } from '../../src/sign/fulcio.ts';
import { CertificateSigner } from '../../src/sign/keyless.ts';
import { KeyPairSigner, type Signer } from '../../src/sign/signer.ts';
import { RekorV1Witness } from '../../src/sign/witnesses.ts';
import { stopChild, urlFromChild } from '../helpers/cli.ts';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const SLSA_V1 = 'https://slsa.dev/provenance/v1';
const PUBLISH_V01 = 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1';

export interface ProvenanceSpec {
  /** owner/name of the building repository. */
  repo: string;
  repoId: string;
  ownerId?: string;
  workflow?: string;
  ref?: string;
  trigger?: string;
  /** Sign a statement about another package, or another tarball. */
  subject?: 'other-package' | 'other-digest';
  /** Leave out the registry's publish attestation. */
  noPublishAttestation?: boolean;
}

export interface VersionSpec {
  name: string;
  version: string;
  /** Declared repository (package.json `repository`), e.g. `git+https://github.com/o/r.git`. */
  repository?: string;
  provenance?: ProvenanceSpec;
  trustedPublisher?: boolean;
  signature?: 'ok' | 'bad' | 'expired-key' | 'unknown-key' | 'none';
  /** Publish time (ISO); default a few days ago, in spec order. */
  time?: string;
  files?: Record<string, string>;
}

export interface RegistryKeyPair {
  keyid: string;
  privateKey: KeyObject;
  spkiB64: string;
  expires: string | null;
}

/** npm's keyid: "SHA256:" + unpadded base64 of SHA-256 over the OpenSSH ecdsa-sha2-nistp256 public key blob. */
export function npmKeyid(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([str(Buffer.from('ecdsa-sha2-nistp256')), str(Buffer.from('nistp256')), str(point)]);
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function registryKey(expires: string | null = null): RegistryKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    keyid: npmKeyid(publicKey),
    privateKey,
    spkiB64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    expires,
  };
}

export function keysDocument(keys: RegistryKeyPair[]) {
  return {
    keys: keys.map((k) => ({
      expires: k.expires,
      keyid: k.keyid,
      keytype: 'ecdsa-sha2-nistp256',
      scheme: 'ecdsa-sha2-nistp256',
      key: k.spkiB64,
    })),
  };
}

export function sri(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

/** A gzipped npm tarball (`package/...`) of the given files plus package.json. */
export function makeTarball(work: string, spec: VersionSpec): Buffer {
  const dir = mkdtempSync(join(work, 'pack-'));
  mkdirSync(join(dir, 'package'));
  const manifest = {
    name: spec.name,
    version: spec.version,
    ...(spec.repository ? { repository: spec.repository } : {}),
  };
  writeFileSync(join(dir, 'package', 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const files = spec.files ?? { 'index.js': `module.exports = ${JSON.stringify(`${spec.name}@${spec.version}`)};\n` };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, 'package', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'package', path), content);
  }
  const out = join(dir, 'out.tgz');
  tar.c({ gzip: true, cwd: dir, sync: true, file: out, portable: true, mtime: new Date('1985-10-26T08:15:00Z') }, [
    'package',
  ]);
  const bytes = readFileSync(out);
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

/** A signer whose key hint is the npm keyid, as the registry signs its publish attestations. */
class RegistrySigner implements Signer {
  readonly keyType = 'ecdsa-p256' as const;
  readonly #inner: KeyPairSigner;
  readonly #keyid: string;
  constructor(key: RegistryKeyPair) {
    this.#inner = new KeyPairSigner(key.privateKey);
    this.#keyid = key.keyid;
  }
  async sign(payload: Parameters<Signer['sign']>[0]) {
    const s = await this.#inner.sign(payload);
    if (s.key.$case === 'publicKey') s.key.hint = this.#keyid;
    return s;
  }
}

export interface BuiltVersion {
  spec: VersionSpec;
  tarball: Buffer;
  integrity: string;
  time: string;
  attestations?: unknown;
}

export interface Fixture {
  dir: string;
  storage: string;
  plugin: string;
  keys: RegistryKeyPair[];
  trustedRootPath: string;
  versions: BuiltVersion[];
  byId: Map<string, BuiltVersion>;
}

const unscoped = (name: string) => (name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name);

/**
 * Build every version: tarballs, signatures, attestations (through an in-process trust stack, closed afterwards),
 * verdaccio storage and the plugin's files. `concurrency` signings run at once.
 */
export async function buildFixture(specs: VersionSpec[], options: { dir?: string } = {}): Promise<Fixture> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'vouch-deps-fixture-'));
  const storage = join(dir, 'storage');
  const plugin = join(dir, 'plugin');
  mkdirSync(storage, { recursive: true });
  mkdirSync(join(plugin, 'attestations'), { recursive: true });
  const current = registryKey(null);
  const expired = registryKey('2021-01-01T00:00:00.000Z');
  const keys = [current, expired];
  writeFileSync(join(plugin, 'keys.json'), JSON.stringify(keysDocument(keys)));

  const idp = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(idp.publicKey)), alg: 'RS256', use: 'sig', kid: 'gha' };
  const stack = await startStack({
    dataDir: join(dir, 'stack'),
    port: 0,
    services: { tsa: false, oidc: false },
    issuers: [{ issuer: GITHUB_ISSUER, type: 'github-workflow', jwks: { keys: [jwk] } }],
  });
  const trustedRootPath = join(dir, 'trusted_root.json');
  writeFileSync(trustedRootPath, JSON.stringify(stack.trustedRoot));
  // Generous deadlines: a loaded CI machine (two cores, tests in parallel) must not fail the fixture.
  const witnesses = [new RekorV1Witness(stack.urls.tlog, { timeoutMs: 120_000 })];
  const ca = new FulcioClient(stack.urls.ca, { timeoutMs: 120_000 });
  const contexts = new Map<string, SigningContext>();
  const keylessContext = async (p: ProvenanceSpec): Promise<SigningContext> => {
    const workflow = p.workflow ?? '.github/workflows/release.yml';
    const ref = p.ref ?? 'refs/tags/v1.0.0';
    const trigger = p.trigger ?? 'push';
    const key = JSON.stringify([p.repo, p.repoId, p.ownerId, workflow, ref, trigger]);
    let ctx = contexts.get(key);
    if (!ctx) {
      const owner = p.repo.split('/')[0]!;
      const now = Math.floor(Date.now() / 1000);
      const token = await new jose.SignJWT({
        sub: `repo:${p.repo}:ref:${ref}`,
        repository: p.repo,
        repository_id: p.repoId,
        repository_owner: owner,
        repository_owner_id: p.ownerId ?? '9001',
        repository_visibility: 'public',
        actor: 'release-bot',
        workflow: 'Release',
        workflow_ref: `${p.repo}/${workflow}@${ref}`,
        workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
        job_workflow_ref: `${p.repo}/${workflow}@${ref}`,
        job_workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
        ref,
        ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
        sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
        event_name: trigger,
        run_id: '4242',
        run_attempt: '1',
        runner_environment: 'github-hosted',
      })
        .setProtectedHeader({ alg: 'RS256', kid: 'gha', typ: 'JWT' })
        .setIssuer(GITHUB_ISSUER)
        .setAudience('sigstore')
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .sign(idp.privateKey);
      ctx = {
        signer: new CertificateSigner({ identity: { getToken: async () => token }, ca }),
        witnesses,
      };
      contexts.set(key, ctx);
    }
    return ctx;
  };
  const registryCtx: SigningContext = { signer: new RegistrySigner(current), witnesses };

  const base = Date.now() - 30 * 86_400_000;
  const versions: BuiltVersion[] = [];
  try {
    const built = await mapLimit(specs, 8, async (spec, i): Promise<BuiltVersion> => {
      const tarball = makeTarball(dir, spec);
      const integrity = sri(tarball);
      const time = spec.time ?? new Date(base + i * 60_000).toISOString();
      const b: BuiltVersion = { spec, tarball, integrity, time };
      if (spec.provenance) b.attestations = await attest(spec, tarball, await keylessContext(spec.provenance));
      return b;
    });
    versions.push(...built);
  } finally {
    await stack.close();
  }

  async function attest(spec: VersionSpec, tarball: Buffer, ctx: SigningContext) {
    const p = spec.provenance!;
    const digest =
      p.subject === 'other-digest'
        ? createHash('sha512').update(randomBytes(16)).digest('hex')
        : createHash('sha512').update(tarball).digest('hex');
    const purlName = p.subject === 'other-package' ? 'some-other-package' : spec.name.replace(/^@/, '%40');
    const subject = [{ name: `pkg:npm/${purlName}@${spec.version}`, digest: { sha512: digest } }];
    const workflow = p.workflow ?? '.github/workflows/release.yml';
    const ref = p.ref ?? 'refs/tags/v1.0.0';
    const provenance = await signStatement(ctx, {
      _type: IN_TOTO_STATEMENT_V1,
      subject,
      predicateType: SLSA_V1,
      predicate: {
        buildDefinition: {
          buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
          externalParameters: { workflow: { ref, repository: `https://github.com/${p.repo}`, path: workflow } },
          internalParameters: { github: { event_name: p.trigger ?? 'push', repository_id: p.repoId } },
          resolvedDependencies: [{ uri: `git+https://github.com/${p.repo}@${ref}`, digest: { gitCommit: 'a1b2c3d4' } }],
        },
        runDetails: {
          builder: { id: 'https://github.com/actions/runner/github-hosted' },
          metadata: { invocationId: `https://github.com/${p.repo}/actions/runs/4242/attempts/1` },
        },
      },
    });
    const attestations: unknown[] = [{ predicateType: SLSA_V1, bundle: provenance }];
    if (!p.noPublishAttestation) {
      const publish = await signStatement(registryCtx, {
        _type: IN_TOTO_STATEMENT_V1,
        subject,
        predicateType: PUBLISH_V01,
        predicate: { name: spec.name, version: spec.version, registry: 'https://registry.npmjs.org' },
      });
      attestations.push({ predicateType: PUBLISH_V01, bundle: publish });
    }
    return { attestations };
  }

  // Storage: one package.json per name with every version, and the tarballs beside it.
  const byName = new Map<string, BuiltVersion[]>();
  for (const v of versions) byName.set(v.spec.name, [...(byName.get(v.spec.name) ?? []), v]);
  const sigOf = (key: RegistryKeyPair, message: string) =>
    sign('sha256', Buffer.from(message), key.privateKey).toString('base64');
  for (const [name, list] of byName) {
    const pkgDir = join(storage, name);
    mkdirSync(pkgDir, { recursive: true });
    const packument: Record<string, unknown> = {
      name,
      _id: name,
      versions: {},
      time: {},
      'dist-tags': { latest: list[list.length - 1]!.spec.version },
      users: {},
      _uplinks: {},
      _distfiles: {},
      _attachments: {},
      _rev: '1-0000000000000000',
      readme: '',
    };
    const times = packument.time as Record<string, string>;
    times.created = list[0]!.time;
    times.modified = list[list.length - 1]!.time;
    for (const v of list) {
      const s = v.spec;
      const file = `${unscoped(name)}-${s.version}.tgz`;
      writeFileSync(join(pkgDir, file), v.tarball);
      const message = `${name}@${s.version}:${v.integrity}`;
      const kind = s.signature ?? 'ok';
      const signatures =
        kind === 'none'
          ? undefined
          : kind === 'bad'
            ? [{ keyid: current.keyid, sig: sigOf(current, `${message}x`) }]
            : kind === 'expired-key'
              ? [{ keyid: expired.keyid, sig: sigOf(expired, message) }]
              : kind === 'unknown-key'
                ? (() => {
                    const stranger = registryKey();
                    return [{ keyid: stranger.keyid, sig: sigOf(stranger, message) }];
                  })()
                : [{ keyid: current.keyid, sig: sigOf(current, message) }];
      const dist: Record<string, unknown> = {
        integrity: v.integrity,
        shasum: createHash('sha1').update(v.tarball).digest('hex'),
        tarball: `http://localhost:4873/${name}/-/${file}`,
        ...(signatures ? { signatures } : {}),
      };
      if (v.attestations) {
        const spec = `${name}@${s.version}`;
        dist.attestations = {
          url: `https://registry.npmjs.org/-/npm/v1/attestations/${spec}`,
          provenance: { predicateType: SLSA_V1 },
        };
        writeFileSync(join(plugin, 'attestations', `${encodeURIComponent(spec)}.json`), JSON.stringify(v.attestations));
      }
      (packument.versions as Record<string, unknown>)[s.version] = {
        name,
        version: s.version,
        ...(s.repository ? { repository: { type: 'git', url: s.repository } } : {}),
        _npmUser: s.trustedPublisher
          ? {
              name: 'GitHub Actions',
              email: 'npm-oidc-no-reply@github.com',
              trustedPublisher: { id: 'github', oidcConfigId: 'oidc:00000000-0000-4000-8000-000000000000' },
            }
          : { name: 'maintainer', email: 'maintainer@example.test' },
        dist,
      };
      times[s.version] = v.time;
      (packument._attachments as Record<string, unknown>)[file] = { shasum: dist.shasum, version: s.version };
    }
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify(packument, null, 2));
  }
  writeFileSync(
    join(storage, '.verdaccio-db.json'),
    JSON.stringify({ list: [...byName.keys()], secret: randomBytes(16).toString('hex') }),
  );
  return {
    dir,
    storage,
    plugin,
    keys,
    trustedRootPath,
    versions,
    byId: new Map(versions.map((v) => [`${v.spec.name}@${v.spec.version}`, v])),
  };
}

export interface Registry {
  url: string;
  stop(): Promise<void>;
}

/** Start verdaccio on the fixture's storage; `plugin` false: a mirror without keys and attestations. */
export async function startRegistry(f: Pick<Fixture, 'storage' | 'plugin'>, plugin = true): Promise<Registry> {
  const args = [join(import.meta.dirname, 'verdaccio-server.ts'), f.storage, ...(plugin ? [f.plugin] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await urlFromChild(child, 'verdaccio', (line) => line.startsWith('{"url"'));
  return { url, stop: () => stopChild(child) };
}
