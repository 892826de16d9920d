/**
 * Policies over real keyless releases (certificates with GitHub Actions extensions from a vouch CA that accepts
 * GitHub's issuer): near-miss identities, issuers and extension claims refused; distinct signers counted; a
 * tampered second bundle reported while the rest decide; pin on first use; SARIF valid against the official schema.
 * Each keyless case the official @sigstore/verify policy can express is decided by it too, and must agree.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { isVouchError, VouchError } from '../../src/errors.ts';
import { evaluatePolicy, type SignatureOutcome } from '../../src/policy/evaluate.ts';
import { policyFromSignatures } from '../../src/policy/init.ts';
import { MAX_POLICY_BYTES, parsePolicy } from '../../src/policy/load.ts';
import { toSarif } from '../../src/policy/sarif.ts';
import type { VerificationResult } from '../../src/verify/types.ts';
import { type PolicyVerifyFailure, verifyBundleAlone, verifyWithPolicy } from '../../src/workflow/verify-policy.ts';
import {
  GITHUB_ISSUER,
  type GitHubCa,
  PERSON_ISSUER,
  releaseClaims,
  startGitHubCa,
} from '../helpers/github-release.ts';
import { sarifValidator } from '../helpers/sarif-schema.ts';
import { createSigstoreJsVerifier } from '../helpers/sigstore-verify.ts';

const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml';
const IDENTITY = `${WORKFLOW}@refs/tags/v1.4.2`;

let ca: GitHubCa;
const dir = mkdtempSync(join(tmpdir(), 'vouch-policy-'));
const at = (p: string) => join(dir, p);
const ARTIFACT = Buffer.from('MZ acme app 1.4.2');
const bundles: Record<string, string> = {};

before(async () => {
  ca = await startGitHubCa();
  writeFileSync(at('app.exe'), ARTIFACT);
  const sign = async (name: string, claims: Record<string, unknown>) => {
    bundles[name] = await ca.sign(ARTIFACT, claims);
    writeFileSync(at(`${name}.json`), bundles[name]!);
  };
  await sign('release', releaseClaims());
  await sign('release-again', releaseClaims({ run_id: '9876543211' }));
  await sign('branch-main-x', releaseClaims({ ref: 'refs/heads/main-x' }));
  await sign('branch-main', releaseClaims({ ref: 'refs/heads/main' }));
  await sign('repo-app-x', releaseClaims({ repository: 'acme/app-x', repository_id: '999' }));
  await sign('fork', releaseClaims({ repository: 'evil/app', repository_id: '31337', repository_owner_id: '666' }));
  await sign('recreated', releaseClaims({ repository_id: '123456790' }));
  await sign('prt', releaseClaims({ event_name: 'pull_request_target' }));
  await sign('self-hosted', releaseClaims({ runner_environment: 'self-hosted' }));
  await sign('other-workflow', releaseClaims({ workflowFile: 'nightly.yml' }));
  bundles.rm = await ca.signAsPerson(ARTIFACT, 'rm@acme.test');
  writeFileSync(at('rm.json'), bundles.rm);
  bundles.evilEmail = await ca.signAsPerson(ARTIFACT, 'rm@acme.test.evil.test');
  writeFileSync(at('evilEmail.json'), bundles.evilEmail);
  bundles.rm2 = await ca.signAsPerson(ARTIFACT, 'qa@acme.test');
  writeFileSync(at('rm2.json'), bundles.rm2);
  // A second bundle whose signature was tampered with: one byte of the signature flipped.
  const t = JSON.parse(bundles.rm) as { messageSignature: { signature: string } };
  const sig = Buffer.from(t.messageSignature.signature, 'base64');
  sig[sig.length - 1]! ^= 1;
  t.messageSignature.signature = sig.toString('base64');
  writeFileSync(at('tampered.json'), JSON.stringify(t));
});

after(async () => {
  await ca?.close();
  rmSync(dir, { recursive: true, force: true });
});

const trust = () => [{ name: 'acme-ci', material: ca.trust }];

function policyText(doc: Record<string, unknown>): string {
  return stringify({ apiVersion: 'vouch.dev/policy/v1', ...doc });
}

async function run(doc: Record<string, unknown>, files: string[]) {
  const policy = parsePolicy(policyText(doc), 'test.policy.yaml');
  try {
    const r = await verifyWithPolicy(at('app.exe'), {
      policy,
      trust: trust(),
      bundles: files.map((f) => at(`${f}.json`)),
    });
    return { ok: true as const, evaluation: r.evaluation };
  } catch (e) {
    if (!isVouchError(e, 'POLICY_NOT_SATISFIED')) throw e;
    return { ok: false as const, evaluation: (e.details as PolicyVerifyFailure).evaluation };
  }
}

const ci = (over: Record<string, unknown> = {}) => ({ identity: IDENTITY, issuer: GITHUB_ISSUER, ...over });

/** The official verifier's verdict for the same identity, issuer and extension claims (exact values only). */
function oracle(bundle: string, p: { identity: string | RegExp; issuer: string; oids?: [string, Buffer][] }) {
  const v = createSigstoreJsVerifier({ trustedRootJson: ca.trustedRootJson, ctlogThreshold: 0 });
  return v(bundle, ARTIFACT, p).ok === true;
}
const exactly = (s: string) => new RegExp(`^${s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')}$`);
/** DER UTF8String, as Fulcio encodes extensions .1.8 and up. */
const utf8 = (s: string) => {
  const v = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([0x0c, v.length]), v]);
};

describe('near misses are refused (and the official verifier agrees)', () => {
  const rows: [
    string,
    string,
    Record<string, unknown>,
    { identity: string | RegExp; issuer: string; oids?: [string, Buffer][] },
  ][] = [
    [
      'a branch main-x for main',
      'branch-main-x',
      ci({ identity: `${WORKFLOW}@refs/heads/main` }),
      { identity: exactly(`${WORKFLOW}@refs/heads/main`), issuer: GITHUB_ISSUER },
    ],
    ['repository acme/app-x for acme/app', 'repo-app-x', ci(), { identity: exactly(IDENTITY), issuer: GITHUB_ISSUER }],
    [
      'an issuer with a path appended',
      'release',
      ci({ issuer: `${GITHUB_ISSUER}/evil` }),
      { identity: exactly(IDENTITY), issuer: `${GITHUB_ISSUER}/evil` },
    ],
    [
      'user@example.com.evil.test for the e-mail',
      'evilEmail',
      { identity: 'rm@acme.test', issuer: PERSON_ISSUER },
      { identity: exactly('rm@acme.test'), issuer: PERSON_ISSUER },
    ],
    [
      'a SAN followed by an embedded ", URI:"',
      'release',
      ci({ identity: `${IDENTITY}, URI:https://github.com/evil/app` }),
      { identity: exactly(`${IDENTITY}, URI:https://github.com/evil/app`), issuer: GITHUB_ISSUER },
    ],
    [
      'extension claims of another repository',
      'fork',
      {
        identity: { regexp: 'https://github\\.com/[^/]+/app/\\.github/workflows/release\\.yml@refs/tags/v.*' },
        issuer: GITHUB_ISSUER,
        extensions: { sourceRepositoryURI: 'https://github.com/acme/app', sourceRepositoryIdentifier: '123456789' },
      },
      {
        identity: /^https:\/\/github\.com\/[^/]+\/app\/\.github\/workflows\/release\.yml@refs\/tags\/v.*$/,
        issuer: GITHUB_ISSUER,
        oids: [['1.3.6.1.4.1.57264.1.12', utf8('https://github.com/acme/app')]],
      },
    ],
    [
      'a regexp identity is anchored: acme/app matches no longer name',
      'repo-app-x',
      { identity: { regexp: 'https://github\\.com/acme/app' }, issuer: GITHUB_ISSUER },
      { identity: /^https:\/\/github\.com\/acme\/app$/, issuer: GITHUB_ISSUER },
    ],
  ];
  for (const [name, bundle, signer, official] of rows) {
    it(name, async () => {
      const r = await run({ signers: { s: signer }, require: 's' }, [bundle]);
      assert.equal(r.ok, false);
      assert.equal(r.evaluation.signatures[0]!.verified, true, 'the signature itself verifies');
      assert.ok(r.evaluation.rules[0]!.why![0]!.reasons.length > 0);
      assert.equal(oracle(bundles[bundle]!, official), false, 'the official verifier refuses it too');
    });
  }

  // A backtracking engine takes exponential (regexp) or high-power (glob of many `**`) time on these against the
  // bundle's SAN; the timeout turns such a hang into a failure, the match itself is linear.
  it('patterns that would backtrack catastrophically are matched in linear time', { timeout: 15_000 }, async () => {
    const stars = `${'**?'.repeat(30)}**Z`;
    for (const identity of [{ regexp: '(?:[a-z:/.]+)+Z' }, { glob: stars }]) {
      const r = await run({ signers: { s: ci({ identity }) }, require: 's' }, ['release']);
      assert.equal(r.ok, false, JSON.stringify(identity));
      assert.equal(r.evaluation.signatures[0]!.verified, true);
    }
  });

  it('the exact identity, issuer and claims are accepted, by both verifiers', async () => {
    const r = await run(
      { signers: { s: ci({ extensions: { sourceRepositoryURI: 'https://github.com/acme/app' } }) }, require: 's' },
      ['release'],
    );
    assert.equal(r.ok, true);
    assert.equal(
      oracle(bundles.release!, {
        identity: exactly(IDENTITY),
        issuer: GITHUB_ISSUER,
        oids: [['1.3.6.1.4.1.57264.1.12', utf8('https://github.com/acme/app')]],
      }),
      true,
    );
  });

  it('cosign claim extensions (.1.5 repository) compare exactly: acme/app-x is not acme/app', async () => {
    const p = {
      signers: {
        s: { identity: { regexp: '.*' }, issuer: GITHUB_ISSUER, extensions: { githubWorkflowRepository: 'acme/app' } },
      },
      require: 's',
    };
    assert.equal((await run(p, ['release'])).ok, true);
    assert.equal((await run(p, ['repo-app-x'])).ok, false);
    assert.equal(
      oracle(bundles['repo-app-x']!, {
        identity: /.*/,
        issuer: GITHUB_ISSUER,
        oids: [['1.3.6.1.4.1.57264.1.5', Buffer.from('acme/app')]],
      }),
      false,
    );
    assert.equal(
      oracle(bundles.release!, {
        identity: /.*/,
        issuer: GITHUB_ISSUER,
        oids: [['1.3.6.1.4.1.57264.1.5', Buffer.from('acme/app')]],
      }),
      true,
    );
  });
});

describe('conditions and revocations', () => {
  it('trigger pull_request_target, a self-hosted runner and a branch ref are refused by the conditions', async () => {
    const doc = {
      signers: { s: { identity: { glob: `${WORKFLOW}@*/**` }, issuer: GITHUB_ISSUER } },
      require: 's',
      conditions: {
        trigger: { noneOf: ['pull_request_target'] },
        ref: { glob: 'refs/tags/v*' },
        runner: 'github-hosted',
      },
    };
    assert.equal((await run(doc, ['release'])).ok, true);
    for (const b of ['prt', 'self-hosted', 'branch-main']) {
      const r = await run(doc, [b]);
      assert.equal(r.ok, false, b);
      assert.ok(r.evaluation.signatures[0]!.refused?.length, b);
    }
  });

  it('a signature made after its identity was revoked is refused; one made before counts', async () => {
    const revoke = (since: string) => ({
      signers: { s: ci() },
      require: 's',
      revoked: [{ identity: IDENTITY, since, reason: 'key leaked' }],
    });
    assert.equal((await run(revoke('2000-01-01'), ['release'])).ok, false);
    assert.equal((await run(revoke('2999-01-01'), ['release'])).ok, true);
  });

  it('maxAgeDays and a time window use the verified signing time', async () => {
    assert.equal(
      (await run({ signers: { s: ci() }, require: 's', conditions: { maxAgeDays: 1 } }, ['release'])).ok,
      true,
    );
    const old = await run({ signers: { s: ci() }, require: 's', conditions: { signedBefore: '2001-01-01' } }, [
      'release',
    ]);
    assert.equal(old.ok, false);
  });
});

describe('several signers', () => {
  const twoPerson = {
    signers: { ci: ci(), rm: { identity: 'rm@acme.test', issuer: PERSON_ISSUER } },
    require: { allOf: ['ci', 'rm'] },
  };

  it('the pipeline and the release manager: both needed', async () => {
    assert.equal((await run(twoPerson, ['release', 'rm'])).ok, true);
    assert.equal((await run(twoPerson, ['release'])).ok, false);
  });

  it('a tampered second bundle is reported, and the policy still decides on the rest', async () => {
    const anyOf = { ...twoPerson, require: { anyOf: ['ci', 'rm'] } };
    const r = await run(anyOf, ['release', 'tampered']);
    assert.equal(r.ok, true);
    const bad = r.evaluation.signatures.find((s) => s.source.endsWith('tampered.json'))!;
    assert.equal(bad.verified, false);
    assert.equal(bad.error!.code, 'SIGNATURE_INVALID');
    // With both required, the tampered one is why it fails, and the explanation says so.
    const both = await run(twoPerson, ['release', 'tampered']);
    assert.equal(both.ok, false);
    const rm = both.evaluation.rules[0]!.children![1]!;
    assert.match(rm.why!.find((w) => w.signature.endsWith('tampered.json'))!.reasons[0]!, /SIGNATURE_INVALID/);
  });

  it('k of n counts distinct signers: the same identity twice counts once, two certificates of one identity once', async () => {
    const doc = {
      signers: {
        a: { identity: { regexp: '.*@acme\\.test' }, issuer: PERSON_ISSUER },
        b: { identity: { regexp: '.*@acme\\.test' }, issuer: PERSON_ISSUER },
      },
      require: { threshold: 2, of: ['a', 'b'] },
    };
    writeFileSync(at('rm-copy.json'), bundles.rm!);
    assert.equal((await run(doc, ['rm', 'rm-copy'])).ok, false, 'one bundle twice');
    const ciTwice = {
      signers: { a: ci(), b: { identity: { glob: `${WORKFLOW}@*/**` }, issuer: GITHUB_ISSUER } },
      require: { threshold: 2, of: ['a', 'b'] },
    };
    const r = await run(ciTwice, ['release', 'release-again']);
    assert.equal(r.ok, false, 'two certificates of one identity');
    assert.match(r.evaluation.rules[0]!.note!, /more than once/);
    assert.equal((await run(doc, ['rm', 'rm2'])).ok, true, 'two people');
  });
});

describe('policies refused when loaded', () => {
  const rows: [string, string, string][] = [
    [
      'threshold above its list',
      policyText({ signers: { a: ci() }, require: { threshold: 2, of: ['a'] } }),
      'threshold',
    ],
    ['an empty list', policyText({ signers: { a: ci() }, require: { anyOf: [] } }), 'anyOf'],
    [
      'the same exact identity twice',
      policyText({ signers: { a: ci(), b: ci() }, require: { allOf: ['a', 'b'] } }),
      'require',
    ],
    ['an unknown signer', policyText({ signers: { a: ci() }, require: { anyOf: ['a', 'b'] } }), 'require'],
    [
      'a ref pinned against the ref condition',
      policyText({
        signers: { a: ci({ extensions: { sourceRepositoryRef: 'refs/heads/main' } }) },
        require: 'a',
        conditions: { ref: { glob: 'refs/tags/v*' } },
      }),
      'signers',
    ],
    [
      'a key under claim conditions',
      policyText({ signers: { k: { fingerprint: 'a'.repeat(64) } }, require: 'k', conditions: { trigger: 'push' } }),
      'signers',
    ],
    [
      'an empty time window',
      policyText({
        signers: { a: ci() },
        require: 'a',
        conditions: { signedAfter: '2025-01-01', signedBefore: '2024-01-01' },
      }),
      'conditions',
    ],
    [
      'keyless and key at once',
      policyText({ signers: { a: ci({ fingerprint: 'a'.repeat(64) }) }, require: 'a' }),
      'signers',
    ],
    [
      'an unknown extension name',
      policyText({ signers: { a: ci({ extensions: { sourceRepo: 'x' } }) }, require: 'a' }),
      'extensions',
    ],
    ['an unused signer', policyText({ signers: { a: ci(), b: ci({ identity: 'x' }) }, require: 'a' }), 'signers'],
    ['a bad regexp', policyText({ signers: { a: ci({ identity: { regexp: '(' } }) }, require: 'a' }), 'identity'],
    [
      'a backreference (RE2 syntax, as cosign)',
      policyText({ signers: { a: ci({ identity: { regexp: '(x)\\1' } }) }, require: 'a' }),
      'identity',
    ],
    ['a lookahead', policyText({ signers: { a: ci({ ref: { regexp: '(?!refs/heads/).*' } }) }, require: 'a' }), 'ref'],
    [
      'duplicate keys',
      'apiVersion: vouch.dev/policy/v1\nsigners:\n  a: {identity: x, issuer: y}\n  a: {identity: x, issuer: y}\nrequire: a\n',
      '',
    ],
    ['another apiVersion', policyText({ apiVersion: 'v2', signers: { a: ci() }, require: 'a' }), 'apiVersion'],
    [
      'a combinatorial explosion',
      policyText({
        signers: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`s${i}`, ci({ identity: `x${i}` })])),
        require: { threshold: 15, of: Array.from({ length: 30 }, (_, i) => `s${i}`) },
      }),
      'require',
    ],
    [
      'an alias bomb (a billion laughs)',
      `apiVersion: vouch.dev/policy/v1\nsigners:\n  a: {identity: x, issuer: y}\nrequire: a\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n${Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(', ')}]`).join('\n')}\n`,
      '',
    ],
    [
      'rules nested deeper than 8',
      `apiVersion: vouch.dev/policy/v1\nsigners:\n  a: {identity: x, issuer: y}\nrequire: ${'{anyOf: ['.repeat(10)}a${']}'.repeat(10)}\n`,
      'anyOf',
    ],
    ['flow collections nested beyond the stack', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, ''],
    [
      'two documents in one file',
      `${policyText({ signers: { a: ci() }, require: 'a' })}---\n${policyText({ signers: { a: ci() }, require: 'a' })}`,
      '',
    ],
    ['a list, not a mapping', '- apiVersion: vouch.dev/policy/v1\n', ''],
    ['an empty document', '# nothing\n', ''],
    [
      'an unknown tag read as a plain string',
      'apiVersion: vouch.dev/policy/v1\nsigners:\n  a: {identity: !evil x, issuer: y}\nrequire: a\n',
      '',
    ],
    [
      'a tag of another language',
      'apiVersion: vouch.dev/policy/v1\nsigners:\n  a: {identity: x, issuer: y}\nrequire: !!js/function "function () {}"\n',
      '',
    ],
    [
      'a complex (non-string) key',
      'apiVersion: vouch.dev/policy/v1\nsigners:\n  ? [a, b]\n  : {identity: x, issuer: y}\nrequire: a\n',
      '',
    ],
    [
      'duplicate keys far apart, in a flow mapping',
      `apiVersion: vouch.dev/policy/v1\nsigners:\n  a: {identity: x, ${Array.from({ length: 50 }, (_, i) => `k${i}: v`).join(', ')}, identity: y, issuer: z}\nrequire: a\n`,
      '',
    ],
    [
      '1 and "1", one key once read',
      'apiVersion: vouch.dev/policy/v1\nsigners:\n  1: {identity: x, issuer: y}\n  "1": {identity: z, issuer: y}\nrequire: "1"\n',
      '',
    ],
    ['a signer named __proto__', policyText({ signers: { ['__proto__']: ci() }, require: '__proto__' }), 'signers'],
    ['threshold 0', policyText({ signers: { a: ci() }, require: { threshold: 0, of: ['a'] } }), 'threshold'],
    ['a fractional threshold', policyText({ signers: { a: ci() }, require: { threshold: 1.5, of: ['a'] } }), 'require'],
    ['maxAgeDays 0', policyText({ signers: { a: ci() }, require: 'a', conditions: { maxAgeDays: 0 } }), 'maxAgeDays'],
    [
      'an impossible date',
      policyText({ signers: { a: ci() }, require: 'a', conditions: { signedAfter: '2025-13-45' } }),
      'signedAfter',
    ],
    ['an empty identity', policyText({ signers: { a: ci({ identity: '' }) }, require: 'a' }), 'identity'],
    ['an empty oneOf', policyText({ signers: { a: ci({ identity: { oneOf: [] } }) }, require: 'a' }), 'oneOf'],
    [
      'an identity longer than a certificate holds',
      policyText({ signers: { a: ci({ identity: 'x'.repeat(5000) }) }, require: 'a' }),
      'identity',
    ],
    [
      'more than 64 signers',
      policyText({
        signers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`s${i}`, ci({ identity: `x${i}` })])),
        require: 's0',
      }),
      'signers',
    ],
    [
      'a regexp that escapes its anchors',
      policyText({ signers: { a: ci({ identity: { regexp: 'x)|(.*' } }) }, require: 'a' }),
      'identity',
    ],
    [
      'a key that is not a public key',
      policyText({
        signers: { k: { key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' } },
        require: 'k',
      }),
      'key',
    ],
    [
      'a fingerprint that is not SHA-256 hex',
      policyText({ signers: { k: { fingerprint: 'zz' } }, require: 'k' }),
      'fingerprint',
    ],
    [
      'a revocation without a date',
      policyText({ signers: { a: ci() }, require: 'a', revoked: [{ identity: IDENTITY }] }),
      'revoked',
    ],
    [
      'an unknown artifact kind',
      policyText({ signers: { a: ci() }, require: 'a', artifacts: [{ kind: 'exe', require: 'a' }] }),
      'kind',
    ],
    ['an unknown top-level key', policyText({ signers: { a: ci() }, require: 'a', requires: 'a' }), ''],
  ];
  for (const [name, text, field] of rows) {
    it(name, () => {
      assert.throws(
        () => parsePolicy(text, 'bad.yaml'),
        (e: unknown) => {
          assert.ok(e instanceof VouchError && e.code === 'POLICY_INVALID', String(e));
          assert.match(e.message, /^bad\.yaml:\d+:\d+: /, 'names the line and column');
          if (field)
            assert.ok((e.details as { path: string[] }).path.includes(field) || e.message.includes(field), e.message);
          return true;
        },
      );
    });
  }

  it('a document over the cap, or not UTF-8, is refused before it is parsed', () => {
    const ok = policyText({ signers: { a: ci() }, require: 'a' });
    for (const bytes of [
      Buffer.from(`${ok}#${'x'.repeat(MAX_POLICY_BYTES)}\n`),
      Buffer.concat([Buffer.from(`${ok}# `), Buffer.from([0xff, 0xfe, 0x0a])]),
    ]) {
      assert.throws(
        () => parsePolicy(bytes, 'bad.yaml'),
        (e: unknown) => e instanceof VouchError && e.code === 'POLICY_INVALID',
      );
    }
  });

  it('names the line of the field at fault', () => {
    const text = `apiVersion: vouch.dev/policy/v1\nsigners:\n  ci:\n    identity: ${IDENTITY}\n    issuer: ${GITHUB_ISSUER}\n    roots: []\nrequire: ci\n`;
    assert.throws(
      () => parsePolicy(text, 'p.yaml'),
      (e: VouchError) => e.code === 'POLICY_INVALID' && /^p\.yaml:6:/.test(e.message),
    );
  });

  it('the dependencies section is checked by its schema and handed over as written', () => {
    const dependencies = { requireProvenance: ['@acme/*'], tagsOnly: true, minimumReleaseAge: '7d' };
    const p = parsePolicy(policyText({ signers: { a: ci() }, require: 'a', dependencies }), 'p.yaml');
    assert.deepEqual(p.dependencies, dependencies);
    assert.throws(
      () => parsePolicy(policyText({ signers: { a: ci() }, require: 'a', dependencies: { npm: { x: 1 } } }), 'p.yaml'),
      { code: 'POLICY_INVALID' },
    );
  });

  it('a dependencies section alone loads for vouch deps, and verifies no artifact (never "anyone will do")', async () => {
    const deps = { dependencies: { tagsOnly: true } };
    const p = parsePolicy(policyText(deps), 'deps.yaml');
    assert.deepEqual(p.dependencies, { tagsOnly: true });
    assert.equal(p.require, undefined);
    // A genuine signature of the artifact is there: the policy still names nobody, so it cannot pass.
    await assert.rejects(run(deps, ['release']), { code: 'POLICY_INVALID' });
    const rows: Record<string, unknown>[] = [
      {},
      { signers: { a: ci() } },
      { require: 'a' },
      { signers: { a: ci() }, dependencies: { tagsOnly: true } },
      { require: 'a', dependencies: { tagsOnly: true } },
    ];
    for (const doc of rows) {
      assert.throws(() => parsePolicy(policyText(doc), 'p.yaml'), { code: 'POLICY_INVALID' }, JSON.stringify(doc));
    }
  });
});

describe('pin on first use: vouch policy init', () => {
  it('the policy pinned from a release verifies the next release, and refuses a fork, a recreated repository and another workflow', async () => {
    const first = await verifyBundleAlone(at('release.json'), { keys: [], trust: [ca.trust] });
    const doc = policyFromSignatures([{ signer: first.result.signer, source: 'release.json' }]);
    const text = stringify(doc);
    assert.match(text, /refs\/tags\/v\*/);
    const policy = parsePolicy(text, 'pinned.yaml');
    const next = Buffer.from('MZ acme app 1.5.0');
    writeFileSync(at('next.exe'), next);
    const sign = async (claims: Record<string, unknown>) => {
      writeFileSync(at('next.json'), await ca.sign(next, releaseClaims({ ref: 'refs/tags/v1.5.0', ...claims })));
      try {
        await verifyWithPolicy(at('next.exe'), { policy, trust: trust(), bundles: [at('next.json')] });
        return true;
      } catch (e) {
        if (!isVouchError(e, 'POLICY_NOT_SATISFIED')) throw e;
        return false;
      }
    };
    assert.equal(await sign({}), true, 'the next release');
    assert.equal(
      await sign({ repository: 'evil/app', repository_id: '31337', repository_owner_id: '666' }),
      false,
      'a fork',
    );
    assert.equal(await sign({ repository_id: '123456790' }), false, 'a repository deleted and recreated');
    assert.equal(await sign({ workflowFile: 'nightly.yml' }), false, 'another workflow');
    assert.equal(await sign({ event_name: 'pull_request_target' }), false, 'another trigger');
    assert.equal(await sign({ ref: 'refs/heads/main' }), false, 'a branch build');
  });

  it('a tampered bundle is never pinned', async () => {
    await assert.rejects(
      verifyBundleAlone(at('tampered.json'), { keys: [], trust: [ca.trust] }),
      (e: VouchError) => e.code === 'SIGNATURE_INVALID',
    );
  });

  it('two signers with --threshold; more than the distinct signers is refused', async () => {
    const a = (await verifyBundleAlone(at('release.json'), { keys: [], trust: [ca.trust] })).result.signer;
    const b = (await verifyBundleAlone(at('rm.json'), { keys: [], trust: [ca.trust] })).result.signer;
    const doc = policyFromSignatures(
      [
        { signer: a, source: 'a' },
        { signer: b, source: 'b' },
        { signer: b, source: 'b2' },
      ],
      { threshold: 2 },
    );
    assert.deepEqual(doc.require, { allOf: Object.keys(doc.signers) });
    assert.throws(
      () =>
        policyFromSignatures(
          [
            { signer: a, source: 'a' },
            { signer: a, source: 'a2' },
          ],
          { threshold: 2 },
        ),
      (e: VouchError) => e.code === 'POLICY_INVALID',
    );
  });
});

describe('SARIF', () => {
  it('a failed policy is one result per rule not met, valid against the official SARIF 2.1.0 schema', async () => {
    const validate = sarifValidator();
    const r = await run(
      {
        signers: { ci: ci(), rm: { identity: 'rm@acme.test', issuer: PERSON_ISSUER } },
        require: { allOf: ['ci', 'rm'] },
      },
      ['release', 'tampered'],
    );
    const log = toSarif(r.evaluation, { artifactUri: 'dist/app.exe', toolVersion: '0.1.0' });
    assert.ok(validate(log), JSON.stringify(validate.errors));
    const results = log.runs[0]!.results!;
    assert.deepEqual(results.map((x) => x.ruleId).sort(), ['require', 'require.allOf[1]']);
    assert.deepEqual(results[0]!.locations, [{ physicalLocation: { artifactLocation: { uri: 'dist/app.exe' } } }]);
    const ok = await run({ signers: { ci: ci() }, require: 'ci' }, ['release']);
    const okLog = toSarif(ok.evaluation, { artifactUri: 'dist/app.exe', toolVersion: '0.1.0' });
    assert.ok(validate(okLog), JSON.stringify(validate.errors));
    // The validator is not vacuous: a result without its message is refused.
    const broken = structuredClone(log) as { runs: { results: { message?: unknown }[] }[] };
    delete broken.runs[0]!.results[0]!.message;
    assert.equal(validate(broken), false);
  });
});

describe('evaluation alone', () => {
  it('a failed verification never counts, whatever the policy', () => {
    const policy = parsePolicy(
      policyText({ signers: { a: { identity: { regexp: '.*' }, issuer: { regexp: '.*' } } }, require: 'a' }),
      'p',
    );
    const outcomes: SignatureOutcome[] = [
      { source: 'x', verified: false, error: { code: 'CHAIN_INVALID', message: 'no' } },
    ];
    assert.equal(evaluatePolicy(policy, outcomes, { now: 0, target: { kind: 'file', name: 'x' } }).satisfied, false);
    const result = {
      verified: true,
      signer: { type: 'certificate', identity: 'i', issuer: 'j', extensions: {} },
      timestamps: [],
      tlogEntries: [],
      mediaType: '',
    } as unknown as VerificationResult;
    assert.equal(
      evaluatePolicy(policy, [{ source: 'y', verified: true, result, roots: [] }], {
        now: 0,
        target: { kind: 'file', name: 'x' },
      }).satisfied,
      true,
    );
  });

  it('directory path rules apply when their pattern has entries, and always when the entries are not known', () => {
    const policy = parsePolicy(
      policyText({
        signers: { ci: ci(), rm: { identity: 'rm@acme.test', issuer: PERSON_ISSUER } },
        require: 'ci',
        artifacts: [{ kind: 'directory', paths: [{ pattern: 'bin/**', require: 'rm' }] }],
      }),
      'p',
    );
    const result = {
      verified: true,
      signer: { type: 'certificate', identity: IDENTITY, issuer: GITHUB_ISSUER, extensions: {} },
      timestamps: [],
      tlogEntries: [],
      mediaType: '',
    } as unknown as VerificationResult;
    const o: SignatureOutcome[] = [{ source: 'ci', verified: true, result, roots: [] }];
    const target = { kind: 'directory' as const, name: 'release' };
    assert.equal(evaluatePolicy(policy, o, { now: 0, target, paths: ['doc/a.md'] }).satisfied, true);
    assert.equal(evaluatePolicy(policy, o, { now: 0, target, paths: ['bin/app.exe'] }).satisfied, false);
    assert.equal(evaluatePolicy(policy, o, { now: 0, target }).satisfied, false);
  });
});

describe('the schema', () => {
  it('is published in docs/ as the loader has it, and lists exactly the extensions of the one table', async () => {
    const { CERTIFICATE_EXTENSIONS } = await import('../../src/core/x509.ts');
    for (const f of ['policy.schema.json', 'dependencies.schema.json']) {
      assert.equal(
        readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'schemas', f), 'utf8'),
        readFileSync(join(import.meta.dirname, '..', '..', 'src', 'policy', f), 'utf8'),
        `copy src/policy/${f} to docs/schemas/`,
      );
    }
    const schema = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'src', 'policy', 'policy.schema.json'), 'utf8'),
    );
    assert.deepEqual(
      schema.definitions.signer.properties.extensions.propertyNames.enum,
      CERTIFICATE_EXTENSIONS.map((e) => e.name),
    );
  });
});
