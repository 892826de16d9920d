/**
 * The parts of vouch deps one at a time: .npmrc configuration, registry keys and signatures (a table of hostile
 * keys and signature cases), attestations against **production npm bundles** (made by the public Sigstore instance
 * and npm's registry, not by vouch: an independent check of identity extraction and subject binding), repository
 * normalization, continuity and the policy section.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDepsLock, identityChanges, parseDepsLock } from '../../src/deps/lock.ts';
import { authorizationFor, loadNpmConfig, registryFor } from '../../src/deps/npm/config.ts';
import { claimedLevel, versionRecord } from '../../src/deps/npm/index.ts';
import {
  MAX_ATTESTATIONS_BYTES,
  normalizeRepository,
  npmPurl,
  parseAttestations,
  verifyAttestations,
} from '../../src/deps/npm/provenance.ts';
import { checkRegistrySignatures, parseRegistryKeys, type RegistryKey } from '../../src/deps/npm/signatures.ts';
import { installPath, tarballFiles } from '../../src/deps/npm/tarball.ts';
import { applyExceptions, evaluatePolicy, parseDepsPolicy } from '../../src/deps/policy.ts';
import type { PackageEvidence, Problem } from '../../src/deps/types.ts';
import { loadTrustedRoot } from '../../src/verify/trust.ts';
import { throwsWith } from '../keyless/helpers.ts';
import { keysDocument, makeTarball, npmKeyid, registryKey } from './fixture.ts';

const CASES = '/work/shared/realbundles/cases';

describe('.npmrc', () => {
  it('registries per scope and credentials only for their own registry, with $-brace variable substitution', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-npmrc-'));
    try {
      writeFileSync(
        join(dir, '.npmrc'),
        [
          'registry=https://npm.acme.test/api/npm/',
          '@acme:registry=https://npm.acme.test/private/',
          `//npm.acme.test/private/:_authToken=${'$'}{ACME_TOKEN}`,
          '//npm.acme.test/api/npm/:username=ci',
          `//npm.acme.test/api/npm/:_password=${Buffer.from('s3cret').toString('base64')}`,
          `optional=${'$'}{NOT_SET?}`,
        ].join('\n'),
      );
      const env = { HOME: dir, ACME_TOKEN: 'tok', npm_config_userconfig: join(dir, 'none') };
      const c = loadNpmConfig(dir, env);
      assert.equal(registryFor(c, 'left-pad'), 'https://npm.acme.test/api/npm/');
      assert.equal(registryFor(c, '@acme/util'), 'https://npm.acme.test/private/');
      assert.equal(authorizationFor(c, 'https://npm.acme.test/private/@acme%2futil'), 'Bearer tok');
      assert.equal(
        authorizationFor(c, 'https://npm.acme.test/api/npm/left-pad/-/left-pad-1.0.0.tgz'),
        `Basic ${Buffer.from('ci:s3cret').toString('base64')}`,
      );
      assert.equal(authorizationFor(c, 'https://registry.npmjs.org/left-pad'), undefined);
      assert.equal(authorizationFor(c, 'https://npm.acme.test/other/x'), undefined);
      // The environment wins over the files.
      const e = loadNpmConfig(dir, { ...env, npm_config_registry: 'https://mirror.test/' });
      assert.equal(e.registry, 'https://mirror.test/');
      throwsWith(() => loadNpmConfig(dir, { HOME: dir, npm_config_userconfig: join(dir, 'none') }), 'CONFIG_INVALID');
      writeFileSync(join(dir, '.npmrc'), 'registry=https://user:pw@npm.acme.test/\n');
      throwsWith(() => loadNpmConfig(dir, env), 'CONFIG_INVALID');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registry keys and signatures', () => {
  const current = registryKey(null);
  const keys = parseRegistryKeys(keysDocument([current, registryKey('2021-01-01T00:00:00.000Z')]), 'r');
  const integrity = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
  const sig = (message: string, key = current.privateKey) =>
    sign('sha256', Buffer.from(message), key).toString('base64');
  const check = (o: Partial<Parameters<typeof checkRegistrySignatures>[0]>) =>
    checkRegistrySignatures({
      name: 'a',
      version: '1.0.0',
      integrity,
      signatures: [{ keyid: current.keyid, sig: sig(`a@1.0.0:${integrity}`) }],
      publishedAt: '2024-01-01T00:00:00.000Z',
      keys,
      ...o,
    });

  it("npm's keyid rule reproduces the public registry's current key id", () => {
    // The public npm key (registry.npmjs.org/-/npm/v1/keys, 2025 rotation) and its published keyid.
    const spki = Buffer.from(
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g==',
      'base64',
    );
    assert.equal(
      npmKeyid(createPublicKey({ key: spki, format: 'der', type: 'spki' })),
      'SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U',
    );
  });

  const verdicts: [string, Partial<Parameters<typeof checkRegistrySignatures>[0]>, string][] = [
    ['a valid signature', {}, 'verified'],
    ['no keys (a mirror): unchecked, never verified', { keys: undefined }, 'unchecked'],
    ['no signature where the registry signs', { signatures: [] }, 'missing'],
    ['another message (name, version or integrity)', { version: '1.0.1' }, 'REGISTRY_SIGNATURE_INVALID'],
    ['an unknown key id', { signatures: [{ keyid: 'SHA256:nope', sig: 'AA==' }] }, 'REGISTRY_KEY_UNKNOWN'],
    [
      'a signature that is not base64',
      { signatures: [{ keyid: current.keyid, sig: '!!' }] },
      'REGISTRY_SIGNATURE_INVALID',
    ],
    [
      'one good and one bad signature: every signature must verify',
      {
        signatures: [
          { keyid: current.keyid, sig: sig(`a@1.0.0:${integrity}`) },
          { keyid: current.keyid, sig: sig('x') },
        ],
      },
      'REGISTRY_SIGNATURE_INVALID',
    ],
  ];
  for (const [name, o, want] of verdicts) {
    it(`signature: ${name}`, () => {
      const v = check(o);
      assert.equal(v.status === 'invalid' ? v.code : v.status, want);
    });
  }

  it('key expiry is judged at the publish time, as npm does (2015-01-01 without one)', () => {
    const old = keys[1]!;
    const s = [{ keyid: old.keyid, sig: 'AA==' }];
    const at = (publishedAt: string | undefined) => {
      const k: RegistryKey = { ...old };
      const v = checkRegistrySignatures({
        name: 'a',
        version: '1.0.0',
        integrity,
        signatures: s,
        publishedAt,
        keys: [k],
      });
      return v.status === 'invalid' ? v.code : v.status;
    };
    assert.equal(at('2021-06-01T00:00:00.000Z'), 'REGISTRY_KEY_EXPIRED');
    assert.equal(at('2021-01-01T00:00:00.000Z'), 'REGISTRY_KEY_EXPIRED');
    // Before expiry the key counts (the bogus signature then fails as a signature).
    assert.equal(at('2020-12-31T23:59:59.000Z'), 'REGISTRY_SIGNATURE_INVALID');
    assert.equal(at(undefined), 'REGISTRY_SIGNATURE_INVALID');
  });

  const hostileKeys: [string, unknown][] = [
    ['not an object', []],
    ['keys not a list', { keys: {} }],
    ['an RSA key', { keys: [{ ...keysDocument([current]).keys[0], keytype: 'rsa' }] }],
    [
      'a P-384 key',
      (() => {
        const k = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({
          format: 'der',
          type: 'spki',
        });
        return { keys: [{ ...keysDocument([current]).keys[0], key: k.toString('base64') }] };
      })(),
    ],
    ['a key that is not base64', { keys: [{ ...keysDocument([current]).keys[0], key: '%%' }] }],
    ['an expiry that is not a date', { keys: [{ ...keysDocument([current]).keys[0], expires: 'soon' }] }],
    ['no keyid', { keys: [{ ...keysDocument([current]).keys[0], keyid: '' }] }],
  ];
  for (const [name, doc] of hostileKeys) {
    it(`keys document refused: ${name}`, () => {
      throwsWith(() => parseRegistryKeys(doc, 'r'), 'SERVICE_ERROR');
    });
  }
});

describe('attestations (production npm bundles)', () => {
  const trust = [loadTrustedRoot(readFileSync(join(CASES, '..', 'trusted_roots', 'public-good.json'), 'utf8'))];
  const provenance = JSON.parse(
    readFileSync(join(CASES, 'prod-npm-provenance-sigstore-2.0.0', 'bundle.sigstore.json'), 'utf8'),
  );
  const publish = JSON.parse(
    readFileSync(join(CASES, 'prod-npm-publish-attestation-key', 'bundle.sigstore.json'), 'utf8'),
  );
  const sha = (c: string) =>
    Buffer.from(
      (JSON.parse(readFileSync(join(CASES, c, 'case.json'), 'utf8')) as { input: string }).input.slice(7),
      'hex',
    );
  const npmKey = (expires?: string): RegistryKey => {
    const pem = readFileSync(join(CASES, 'prod-npm-publish-attestation-key', 'key.pub'), 'utf8');
    const key = createPublicKey(pem);
    return {
      keyid: 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA',
      key,
      spki: key.export({ format: 'der', type: 'spki' }),
      ...(expires ? { expires: Date.parse(expires), expiresText: expires } : {}),
    };
  };

  /** The attestations of sigstore@2.0.0 as the registry serves them, with `o` changed. */
  const sigstore2 = (o: Partial<Parameters<typeof verifyAttestations>[0]> = {}) =>
    verifyAttestations({
      name: 'sigstore',
      version: '2.0.0',
      sha512: sha('prod-npm-provenance-sigstore-2.0.0'),
      attestations: [{ predicateType: 'https://slsa.dev/provenance/v1', bundle: provenance }],
      keys: [],
      trust,
      declaredRepository: normalizeRepository('git+https://github.com/sigstore/sigstore-js.git')!,
      ...o,
    });

  it('sigstore@2.0.0: a v0.1 bundle from GitHub Actions names its repository, ids and workflow', () => {
    const out = sigstore2();
    assert.deepEqual(out.problems, []);
    assert.equal(out.ownRepository, true);
    assert.deepEqual(
      { ...out.provenance, builder: undefined },
      {
        issuer: 'https://token.actions.githubusercontent.com',
        repository: 'https://github.com/sigstore/sigstore-js',
        repositoryId: '495574555',
        ownerId: '71096353',
        workflow: '.github/workflows/release.yml',
        ref: 'refs/heads/main',
        trigger: 'push',
        runnerEnvironment: 'github-hosted',
        builder: undefined,
      },
    );
  });

  // The registry serves bundles v0.1, v0.2 and v0.3 (by the npm CLI version that published). The same provenance in
  // each form: the media type is not signed, and v0.3 carries the leaf alone instead of a chain.
  interface BundleJson {
    mediaType: string;
    verificationMaterial: {
      certificate?: unknown;
      x509CertificateChain?: { certificates: unknown[] };
      tlogEntries: { inclusionProof?: unknown }[];
    };
  }
  const asVersion = (version: '0.2' | '0.3', mutate?: (b: BundleJson) => void) => {
    const b = structuredClone(provenance) as BundleJson;
    b.mediaType = `application/vnd.dev.sigstore.bundle${version === '0.3' ? '.v0.3' : ''}+json${version === '0.3' ? '' : ';version=0.2'}`;
    if (version === '0.3') {
      const vm = b.verificationMaterial;
      vm.certificate = vm.x509CertificateChain!.certificates[0];
      delete vm.x509CertificateChain;
    }
    mutate?.(b);
    return b;
  };
  const forms: [string, BundleJson, string[]][] = [
    ['v0.2', asVersion('0.2'), []],
    ['v0.3', asVersion('0.3'), []],
    [
      'v0.2 without its inclusion proof (v0.2 requires one)',
      asVersion('0.2', (b) => delete b.verificationMaterial.tlogEntries[0]!.inclusionProof),
      ['ATTESTATION_INVALID'],
    ],
    [
      'v0.3 with a certificate chain (v0.3 carries the leaf only)',
      asVersion('0.3', (b) => {
        b.verificationMaterial.x509CertificateChain = { certificates: [b.verificationMaterial.certificate] };
        delete b.verificationMaterial.certificate;
      }),
      ['ATTESTATION_INVALID'],
    ],
    [
      'an unknown bundle version',
      asVersion('0.2', (b) => {
        b.mediaType = 'application/vnd.dev.sigstore.bundle.v0.9+json';
      }),
      ['ATTESTATION_INVALID'],
    ],
  ];
  for (const [name, bundle, codes] of forms) {
    it(`sigstore@2.0.0 provenance as a bundle ${name}: ${codes.length === 0 ? 'the same identity' : codes.join(', ')}`, () => {
      const out = sigstore2({
        attestations: [
          { predicateType: 'https://slsa.dev/provenance/v1', bundle: bundle as unknown as Record<string, unknown> },
        ],
      });
      assert.deepEqual(
        out.problems.map((p) => p.code),
        codes,
      );
      if (codes.length === 0) {
        assert.equal(out.provenance?.repositoryId, '495574555');
        assert.equal(out.ownRepository, true);
      } else assert.equal(out.provenance, undefined);
    });
  }

  const cases: [string, Partial<Parameters<typeof verifyAttestations>[0]>, string[]][] = [
    ['another version (purl)', { version: '2.0.1' }, ['ATTESTATION_SUBJECT_MISMATCH']],
    ['another tarball', { sha512: Buffer.alloc(64) }, ['ATTESTATION_SUBJECT_MISMATCH']],
    [
      'another declared repository',
      { declaredRepository: 'https://github.com/evil/sigstore-js' },
      ['PROVENANCE_REPOSITORY_MISMATCH'],
    ],
    ['no declared repository', { declaredRepository: undefined }, ['PROVENANCE_REPOSITORY_MISMATCH']],
    [
      'a root that did not sign it',
      { trust: [loadTrustedRoot(readFileSync(join(CASES, '..', 'trusted_roots', 'staging.json'), 'utf8'))] },
      ['ATTESTATION_INVALID'],
    ],
  ];
  for (const [name, o, codes] of cases) {
    it(`sigstore@2.0.0 provenance refused: ${name}`, () => {
      const out = sigstore2({ declaredRepository: 'https://github.com/sigstore/sigstore-js', ...o });
      assert.deepEqual(
        out.problems.map((p) => p.code),
        codes,
      );
    });
  }

  it('a second provenance beside the real one is refused, not chosen from (ATTESTATION_INVALID)', () => {
    const slsa = { predicateType: 'https://slsa.dev/provenance/v1', bundle: provenance };
    for (const attestations of [
      [slsa, slsa],
      [slsa, { ...slsa, predicateType: 'https://slsa.dev/provenance/v0.2' }],
    ]) {
      const out = sigstore2({ attestations });
      assert.deepEqual(
        out.problems.map((p) => p.code),
        ['ATTESTATION_INVALID'],
      );
      assert.equal(out.provenance, undefined);
    }
  });

  // The attestations document as a registry may serve it: each row is refused whole.
  const documents: [string, string][] = [
    ['not JSON', '{"attestations": ['],
    ['a duplicate key', '{"attestations": [], "attestations": []}'],
    ['an array', '[]'],
    ['no attestations member', '{}'],
    ['attestations not an array', '{"attestations": {}}'],
    ['an entry that is not an object', '{"attestations": [1]}'],
    ['an entry without predicateType', '{"attestations": [{"bundle": {}}]}'],
    ['a bundle that is not an object', '{"attestations": [{"predicateType": "x", "bundle": "b"}]}'],
    ['deep nesting', `{"attestations": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`],
    [
      'more entries than any version has',
      JSON.stringify({ attestations: Array(10_000).fill({ predicateType: 'x', bundle: {} }) }),
    ],
    ['over the size cap', `{"attestations": [], "pad": "${'x'.repeat(MAX_ATTESTATIONS_BYTES)}"}`],
  ];
  for (const [name, text] of documents) {
    it(`attestations document refused: ${name}`, () => {
      assert.throws(() => parseAttestations(text), { code: 'ATTESTATION_INVALID' });
    });
  }

  it('a tampered bundle (payload changed) does not verify', () => {
    const bad = structuredClone(provenance);
    const payload = JSON.parse(Buffer.from(bad.dsseEnvelope.payload, 'base64').toString());
    payload.predicate.buildDefinition.externalParameters.workflow.repository = 'https://github.com/evil/x';
    bad.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
    const out = verifyAttestations({
      name: 'sigstore',
      version: '2.0.0',
      sha512: sha('prod-npm-provenance-sigstore-2.0.0'),
      attestations: [{ predicateType: 'https://slsa.dev/provenance/v1', bundle: bad }],
      keys: [],
      trust,
    });
    assert.deepEqual(
      out.problems.map((p) => p.code),
      ['ATTESTATION_INVALID'],
    );
  });

  it("sigstore@1.3.0: the registry's publish attestation verifies with its key, valid when logged", () => {
    const run = (keys: RegistryKey[] | undefined, version = '1.3.0') =>
      verifyAttestations({
        name: 'sigstore',
        version,
        sha512: sha('prod-npm-publish-attestation-key'),
        attestations: [
          { predicateType: 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1', bundle: publish },
        ],
        keys,
        trust,
      });
    const ok = run([npmKey('2025-01-29T00:00:00.000Z')]);
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.publishAttestation, 'verified');
    assert.deepEqual(
      run([npmKey('2023-01-01T00:00:00.000Z')]).problems.map((p) => p.code),
      ['REGISTRY_KEY_EXPIRED'],
    );
    assert.deepEqual(
      run([]).problems.map((p) => p.code),
      ['REGISTRY_KEY_UNKNOWN'],
    );
    assert.equal(run(undefined).publishAttestation, 'unchecked');
    assert.deepEqual(
      run([npmKey()], '1.3.1').problems.map((p) => p.code),
      ['ATTESTATION_SUBJECT_MISMATCH'],
    );
  });

  it('purls and repositories as npm writes them', () => {
    assert.equal(npmPurl('@sigstore/core', '1.0.0'), 'pkg:npm/%40sigstore/core@1.0.0');
    const table: [unknown, string | undefined][] = [
      ['git+https://github.com/Acme/Repo.git', 'https://github.com/Acme/Repo'],
      ['github:acme/repo', 'https://github.com/acme/repo'],
      ['acme/repo', 'https://github.com/acme/repo'],
      ['git@github.com:acme/repo.git', 'https://github.com/acme/repo'],
      ['git+ssh://git@github.com/acme/repo.git', 'https://github.com/acme/repo'],
      ['git://github.com/acme/repo', 'https://github.com/acme/repo'],
      [
        { type: 'git', url: 'https://github.com/acme/repo/tree/main/packages/x', directory: 'packages/x' },
        'https://github.com/acme/repo',
      ],
      ['https://gitlab.com/group/sub/repo.git', 'https://gitlab.com/group/sub/repo'],
      ['https://gitlab.com/group/repo/-/tree/main', 'https://gitlab.com/group/repo'],
      ['', undefined],
      ['not a url', undefined],
      ['https://github.com/', undefined],
      [42, undefined],
      ['file:../local', undefined],
    ];
    for (const [input, want] of table) assert.equal(normalizeRepository(input), want, JSON.stringify(input));
  });
});

describe('tarballs', () => {
  it("lists files as npm extracts them: first component stripped, '..' dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vouch-tgz-'));
    try {
      const tgz = makeTarball(dir, { name: 'a', version: '1.0.0', files: { 'lib/x.js': 'x', 'README.md': 'r' } });
      const files = await tarballFiles(tgz);
      assert.deepEqual([...files.keys()].sort(), ['README.md', 'lib/x.js', 'package.json']);
      assert.equal(files.get('lib/x.js')!.size, 1);
      await assert.rejects(tarballFiles(Buffer.from('not a tarball at all, not even gzip')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(installPath('package/../../etc/passwd'), undefined);
    assert.equal(installPath('package'), undefined);
    assert.equal(installPath('./package/./a/b.js'), 'a/b.js');
  });
});

describe('continuity records', () => {
  const packument = {
    versions: {
      '1.0.0': {
        dist: {
          integrity: 'sha512-AA==',
          signatures: [{}],
          attestations: { url: 'u', provenance: { predicateType: 'p' } },
        },
        _npmUser: { trustedPublisher: { id: 'github' } },
      },
      '1.1.0': { dist: { signatures: [{}], attestations: { url: 'u', provenance: { predicateType: 'p' } } } },
      '2.0.0-rc.1': { dist: {} },
      '2.0.0': { dist: { signatures: [{}] }, repository: 'github:acme/a' },
      '0.9.0': { dist: { signatures: [{}] } },
    },
    time: {
      '0.9.0': '2020-01-01T00:00:00Z',
      '1.0.0': '2021-01-01T00:00:00Z',
      '1.1.0': '2022-01-01T00:00:00Z',
      '2.0.0-rc.1': '2022-06-01T00:00:00Z',
      '2.0.0': '2023-01-01T00:00:00Z',
    },
  };
  it('what earlier-published versions claimed, by publish time', () => {
    assert.equal(claimedLevel(packument.versions['1.0.0']), 'trusted-publisher');
    const r = versionRecord(packument, '2.0.0')!;
    assert.deepEqual(r.history, {
      strongest: { version: '1.0.0', level: 'trusted-publisher' },
      lastProvenance: { version: '1.1.0' },
    });
    assert.equal(r.repository, 'https://github.com/acme/a');
    assert.deepEqual(versionRecord(packument, '0.9.0')!.history, {});
    assert.equal(versionRecord(packument, '3.0.0'), undefined);
  });

  it('the lock: strict, sorted, identity fields compared (repository case-insensitively)', () => {
    const text = formatDepsLock({
      lockfileVersion: 1,
      packages: {
        b: { level: 'registry-signed', version: '1.0.0' },
        a: {
          level: 'provenance',
          version: '1.0.0',
          identity: { issuer: 'i', repository: 'https://github.com/A/a', repositoryId: '1' },
        },
      },
    });
    const lock = parseDepsLock(text);
    assert.deepEqual(Object.keys(lock.packages), ['a', 'b']);
    assert.deepEqual(
      identityChanges(lock.packages.a!.identity!, {
        issuer: 'i',
        repository: 'https://github.com/a/A',
        repositoryId: '2',
      }),
      ['repositoryId'],
    );
    const bad: [string, string][] = [
      [
        'duplicate key',
        '{"lockfileVersion":1,"packages":{"a":{"level":"none","version":"1"},"a":{"level":"none","version":"1"}}}',
      ],
      ['unknown level', '{"lockfileVersion":1,"packages":{"a":{"level":"trusted","version":"1"}}}'],
      [
        'identity without provenance',
        '{"lockfileVersion":1,"packages":{"a":{"level":"none","version":"1","identity":{"issuer":"i"}}}}',
      ],
      ['provenance without identity', '{"lockfileVersion":1,"packages":{"a":{"level":"provenance","version":"1"}}}'],
      [
        'unknown identity field',
        '{"lockfileVersion":1,"packages":{"a":{"level":"provenance","version":"1","identity":{"issuer":"i","x":"y"}}}}',
      ],
      ['version 2', '{"lockfileVersion":2,"packages":{}}'],
    ];
    for (const [name, t] of bad)
      assert.throws(
        () => parseDepsLock(t),
        (e: { code?: string }) => e.code === 'LOCKFILE_INVALID',
        name,
      );
  });
});

describe('the dependencies policy section', () => {
  const invalid: [string, unknown][] = [
    ['unknown key', { requireProvenance: ['*'], extra: true }],
    ['a pattern with a glob inside', { requireProvenance: ['le*pad'] }],
    ['an age without unit', { minimumReleaseAge: '7' }],
    ['an exception without reason', { exceptions: [{ package: 'a', codes: ['X_Y'], expires: '2030-01-01' }] }],
    [
      'an exception with a bad date',
      { exceptions: [{ package: 'a', codes: ['X_Y'], reason: 'r', expires: '2030-13-45' }] },
    ],
    ['an empty builder list', { allowedBuilders: [] }],
    ['not an object', ['requireSignatures']],
  ];
  for (const [name, value] of invalid) {
    it(`refused: ${name}`, () => {
      throwsWith(() => parseDepsPolicy(value), 'POLICY_INVALID');
    });
  }

  it('rules apply to verified evidence; exceptions apply until the end of their day', () => {
    const e: PackageEvidence = {
      name: '@acme/a',
      version: '1.0.0',
      registry: 'r',
      integrity: 'ok',
      installed: 'absent',
      signatures: 'unchecked',
      provenance: 'verified',
      level: 'provenance',
      publishedAt: '2026-01-01T00:00:00Z',
      identity: { issuer: 'i', ref: 'refs/heads/main', trigger: 'pull_request_target', builder: 'https://self-hosted' },
    };
    const policy = parseDepsPolicy({
      requireSignatures: true,
      requireProvenance: ['@acme/*'],
      allowedBuilders: ['https://github.com/actions/runner/github-hosted'],
      tagsOnly: true,
      forbiddenTriggers: ['pull_request_target'],
      minimumReleaseAge: '2d',
      exceptions: [{ package: '@acme/a', codes: ['SOURCE_REF_NOT_ALLOWED'], reason: 'r', expires: '2026-01-02' }],
    });
    const now = new Date('2026-01-02T23:00:00Z');
    const problems: Problem[] = evaluatePolicy(e, policy, now);
    assert.deepEqual(
      problems.map((p) => p.code),
      [
        'REGISTRY_SIGNATURE_MISSING',
        'BUILDER_NOT_ALLOWED',
        'SOURCE_REF_NOT_ALLOWED',
        'BUILD_TRIGGER_NOT_ALLOWED',
        'RELEASE_TOO_RECENT',
      ],
    );
    assert.deepEqual(applyExceptions(problems, policy, now), []);
    assert.deepEqual(
      problems.filter((p) => p.excepted).map((p) => p.code),
      ['SOURCE_REF_NOT_ALLOWED'],
    );
    const later = evaluatePolicy(e, policy, new Date('2026-01-03T00:00:00Z'));
    assert.equal(applyExceptions(later, policy, new Date('2026-01-03T00:00:00Z')).length, 1);
    assert.ok(later.every((p) => !p.excepted));
    // Without verified provenance, build rules have nothing to judge; the requirement does.
    const none = evaluatePolicy({ ...e, provenance: 'none', identity: undefined }, policy, now).map((p) => p.code);
    assert.deepEqual(none, ['REGISTRY_SIGNATURE_MISSING', 'PROVENANCE_REQUIRED', 'RELEASE_TOO_RECENT']);
  });
});
