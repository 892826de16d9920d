/**
 * The claim -> certificate mapping of every issuer type (src/core/identity-map.ts), as docs/identities.md states it;
 * checked against certificates the public Sigstore CA issued (realbundles), value for value and byte for byte.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asnX509 from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { type IdentityRules, mapIdentity } from '../../src/core/identity-map.ts';
import { CERTIFICATE_EXTENSIONS, fulcioExtensions, parseCertificate } from '../../src/core/x509.ts';
import { isVouchError } from '../../src/errors.ts';
import { CertificateAuthority, identityExtensionDer } from '../../src/server/ca/ca.ts';
import { TokenVerifier } from '../../src/server/ca/oidc.ts';
import { loadOrCreateAuthorities } from '../../src/server/pki.ts';
import { TYPE_CASES, typeCase } from '../helpers/identity-claims.ts';
import { realbundlesDir } from '../helpers/realbundles.ts';

const ISS = 'https://issuer.test';
const map = (
  type: IdentityRules['type'],
  claims: Record<string, unknown>,
  rules: Partial<IdentityRules> = {},
  iss = ISS,
) => mapIdentity(iss, claims, { type, ...rules });
const exts = (id: ReturnType<typeof mapIdentity>) => Object.fromEntries(id.extensions.map((e) => [e.name, e.value]));

describe('issuer type -> certificate identity (docs/identities.md)', () => {
  it('email: the address, issuer from iss or issuer-claim, sub in .1.24', () => {
    const c = typeCase('email');
    const id = map('email', c.claims);
    assert.deepEqual(id.san, { type: 'email', value: 'alice@example.com' });
    assert.equal(id.challenge, 'alice@example.com');
    assert.deepEqual(id.extensions, [
      { name: 'issuerV1', value: ISS },
      { name: 'issuer', value: ISS },
      { name: 'subject', value: '110169484474386276334' },
    ]);
    // Dex-style federation: the certificate names the upstream, read from the claim path.
    const fed = map(
      'email',
      { ...c.claims, federated_claims: { connector_id: 'https://github.com/login/oauth', user_id: '1' } },
      { issuerClaim: '$.federated_claims.connector_id' },
    );
    assert.equal(exts(fed).issuer, 'https://github.com/login/oauth');
    assert.equal(exts(fed).issuerV1, 'https://github.com/login/oauth');
    // email_verified: true or Fulcio's accepted strings; skipped only when configured.
    for (const v of ['true', 'True']) map('email', { ...c.claims, email_verified: v });
    for (const v of [false, 'false', 'yes', 1, undefined]) {
      assert.throws(
        () => map('email', { ...c.claims, email_verified: v }),
        (e) => isVouchError(e, 'TOKEN_INVALID'),
      );
    }
    map('email', { ...c.claims, email_verified: undefined }, { skipEmailVerification: true });
  });

  it('github-workflow: Fulcio ci-provider template, value for value', () => {
    const id = map(
      'github-workflow',
      typeCase('github-workflow').claims,
      {},
      'https://token.actions.githubusercontent.com',
    );
    const job = 'https://github.com/octo-org/shared/.github/workflows/build.yml@refs/tags/v2';
    assert.deepEqual(id.san, { type: 'uri', value: job });
    assert.equal(id.challenge, 'repo:octo-org/octo-repo:ref:refs/heads/main');
    assert.deepEqual(id.extensions, [
      { name: 'issuerV1', value: 'https://token.actions.githubusercontent.com' },
      { name: 'githubWorkflowTrigger', value: 'push' },
      { name: 'githubWorkflowSha', value: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' },
      { name: 'githubWorkflowName', value: 'Release' },
      { name: 'githubWorkflowRepository', value: 'octo-org/octo-repo' },
      { name: 'githubWorkflowRef', value: 'refs/heads/main' },
      { name: 'issuer', value: 'https://token.actions.githubusercontent.com' },
      { name: 'buildSignerURI', value: job },
      { name: 'buildSignerDigest', value: 'ffeeddccbbaa99887766554433221100ffeeddcc' },
      { name: 'runnerEnvironment', value: 'github-hosted' },
      { name: 'sourceRepositoryURI', value: 'https://github.com/octo-org/octo-repo' },
      { name: 'sourceRepositoryDigest', value: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' },
      { name: 'sourceRepositoryRef', value: 'refs/heads/main' },
      { name: 'sourceRepositoryIdentifier', value: '74' },
      { name: 'sourceRepositoryOwnerURI', value: 'https://github.com/octo-org' },
      { name: 'sourceRepositoryOwnerIdentifier', value: '65' },
      {
        name: 'buildConfigURI',
        value: 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
      },
      { name: 'buildConfigDigest', value: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' },
      { name: 'buildTrigger', value: 'push' },
      { name: 'runInvocationURI', value: 'https://github.com/octo-org/octo-repo/actions/runs/9876543210/attempts/2' },
      { name: 'sourceRepositoryVisibilityAtSigning', value: 'private' },
      { name: 'deploymentEnvironment', value: 'production' },
      { name: 'subject', value: 'repo:octo-org/octo-repo:ref:refs/heads/main' },
    ]);
    // `environment` defaults to empty (left out); a GitHub Enterprise Server sets its own URL.
    const { environment: _, ...noEnv } = typeCase('github-workflow').claims;
    assert.equal(exts(map('github-workflow', noEnv)).deploymentEnvironment, undefined);
    const ghes = map('github-workflow', noEnv, { baseUrl: 'https://ghe.acme.test' });
    assert.equal(ghes.san.value, 'https://ghe.acme.test/octo-org/shared/.github/workflows/build.yml@refs/tags/v2');
  });

  it('gitlab-pipeline: config URI as SAN, the instance URL (self-managed too), ref by ref_type', () => {
    const iss = 'https://gitlab.acme.test';
    const id = map('gitlab-pipeline', typeCase('gitlab-pipeline').claims, {}, iss);
    const cfg = 'https://gitlab.acme.test/acme/app//.gitlab-ci.yml@refs/tags/v1.4.2';
    assert.deepEqual(id.san, { type: 'uri', value: cfg });
    assert.deepEqual(exts(id), {
      issuerV1: iss,
      issuer: iss,
      buildSignerURI: cfg,
      buildSignerDigest: '0123456789abcdef0123456789abcdef01234567',
      runnerEnvironment: 'self-hosted',
      sourceRepositoryURI: 'https://gitlab.acme.test/acme/app',
      sourceRepositoryDigest: '0123456789abcdef0123456789abcdef01234567',
      sourceRepositoryRef: 'refs/tags/v1.4.2',
      sourceRepositoryIdentifier: '20',
      sourceRepositoryOwnerURI: 'https://gitlab.acme.test/acme',
      sourceRepositoryOwnerIdentifier: '72',
      buildConfigURI: cfg,
      buildConfigDigest: '0123456789abcdef0123456789abcdef01234567',
      buildTrigger: 'push',
      runInvocationURI: 'https://gitlab.acme.test/acme/app/-/jobs/4242',
      sourceRepositoryVisibilityAtSigning: 'internal',
      subject: 'project_path:acme/app:ref_type:tag:ref:v1.4.2',
    });
    const branch = map(
      'gitlab-pipeline',
      { ...typeCase('gitlab-pipeline').claims, ref_type: 'branch', ref: 'main' },
      {},
      'https://gitlab.com/',
    );
    assert.equal(exts(branch).sourceRepositoryRef, 'refs/heads/main');
    assert.equal(exts(branch).sourceRepositoryURI, 'https://gitlab.com/acme/app');
  });

  it('buildkite-job: the pipeline URL, the job in the run URI', () => {
    const id = map('buildkite-job', typeCase('buildkite-job').claims, {}, 'https://agent.buildkite.com');
    assert.deepEqual(id.san, { type: 'uri', value: 'https://buildkite.com/acme/release' });
    const e = exts(id);
    assert.equal(
      e.runInvocationURI,
      'https://buildkite.com/acme/release/builds/42#0184990a-477b-4fa8-9968-496074483cee',
    );
    assert.equal(e.runnerEnvironment, 'buildkite-hosted');
    assert.equal(e.sourceRepositoryDigest, '9f3182061f1e2cca4702c368cbc039b7dc9d4485');
    assert.equal(e.buildTrigger, 'webhook');
    assert.deepEqual(Object.keys(e), [
      'issuerV1',
      'issuer',
      'runnerEnvironment',
      'sourceRepositoryDigest',
      'buildTrigger',
      'runInvocationURI',
      'subject',
    ]);
  });

  it('circleci-job: Fulcio template, its double slash and `""` runner environment included', () => {
    const c = typeCase('circleci-job').claims;
    const id = map('circleci-job', c);
    const signer =
      'https://circleci.com/api/v2/projects/5a2c87e6-0c0b-4d59-8f4e-7d6e41d2b0f2/pipeline-definitions/8c0e2d3f-6b14-4a5e-9c7d-1e2f3a4b5c6d';
    assert.deepEqual(id.san, { type: 'uri', value: signer });
    assert.deepEqual(exts(id), {
      issuerV1: ISS,
      issuer: ISS,
      buildSignerURI: signer,
      runnerEnvironment: '""',
      sourceRepositoryURI: 'github.com/acme/app',
      sourceRepositoryRef: 'refs/heads/main',
      buildConfigURI: 'https://circleci.com/api/v2/pipeline/1d4c2b6e-8a31-4f0e-9d8e-2f6a3c5b7e90/config',
      runInvocationURI:
        'https://app.circleci.com//workflow/6e0a9c1f-2b3d-4e5f-8a9b-0c1d2e3f4a5b/job/7f1b0d2e-3c4e-5f60-9bac-1d2e3f405162',
      subject: c.sub,
    });
    assert.equal(
      exts(map('circleci-job', { ...c, 'oidc.circleci.com/ssh-rerun': true })).runnerEnvironment,
      'ssh-rerun',
    );
  });

  it('kubernetes, spiffe, uri, username: Fulcio pkg/identity', () => {
    const k = map('kubernetes', typeCase('kubernetes').claims);
    assert.deepEqual(k.san, { type: 'uri', value: 'https://kubernetes.io/namespaces/release/serviceaccounts/signer' });
    assert.equal(k.challenge, 'system:serviceaccount:release:signer');
    assert.deepEqual(Object.keys(exts(k)), ['issuerV1', 'issuer', 'subject']);
    const s = map('spiffe', typeCase('spiffe').claims, { spiffeTrustDomain: 'prod.acme.test' });
    assert.deepEqual(s.san, { type: 'uri', value: 'spiffe://prod.acme.test/ns/release/sa/signer' });
    const u = map('uri', { sub: 'https://ci.acme.test/bots/release' }, { subjectDomain: 'https://ci.acme.test' });
    assert.deepEqual(u.san, { type: 'uri', value: 'https://ci.acme.test/bots/release' });
    const n = map('username', { sub: 'release-bot' }, { subjectDomain: 'acme.test' });
    assert.deepEqual(n.san, { type: 'username', value: 'release-bot!acme.test' });
    assert.equal(n.challenge, 'release-bot');
    assert.equal(exts(n).subject, 'release-bot');
  });

  it('aws-iam: the principal ARN, account, organization and tags under the vouch arc', () => {
    const id = map('aws-iam', typeCase('aws-iam').claims, {}, 'https://0f1e2d3c.tokens.sts.global.api.aws');
    assert.deepEqual(id.san, { type: 'uri', value: 'arn:aws:iam::123456789012:role/ReleaseSigner' });
    assert.equal(id.challenge, 'arn:aws:iam::123456789012:role/ReleaseSigner');
    const e = exts(id);
    assert.equal(e.awsAccount, '123456789012');
    assert.equal(e.awsOrganizationId, 'o-a1b2c3d4e5');
    assert.equal(e.awsOrganizationalUnitPath, 'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/');
    assert.equal(e.awsPrincipalTags, '{"env":"prod","team":"release"}');
  });

  it('azure-pipelines: the pipeline definition page by id, repository claims, ids under the vouch arc', () => {
    const iss = 'https://vstoken.dev.azure.com/5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';
    const id = map('azure-pipelines', typeCase('azure-pipelines').claims, {}, iss);
    const def = 'https://dev.azure.com/acme/Release%20Tools/_build?definitionId=17';
    assert.deepEqual(id.san, { type: 'uri', value: def });
    assert.deepEqual(exts(id), {
      issuerV1: iss,
      issuer: iss,
      buildSignerURI: def,
      sourceRepositoryURI: 'https://dev.azure.com/acme/Release%20Tools/_git/app',
      sourceRepositoryDigest: '3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09',
      sourceRepositoryRef: 'refs/heads/main',
      sourceRepositoryIdentifier: '9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9',
      runInvocationURI: 'https://dev.azure.com/acme/Release%20Tools/_build/results?buildId=20512',
      subject: 'p://acme/Release Tools/app-release',
      azureDevOpsOrganizationId: '5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      azureDevOpsProjectId: '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9',
      azureDevOpsPipelineId: '17',
    });
  });

  it('entra: managed identity resource, application, or user principal name; tenant bound to the issuer', () => {
    const c = typeCase('entra').claims;
    const tid = c.tid as string;
    const iss = `https://login.microsoftonline.com/${tid}/v2.0`;
    const mi = map('entra', c, {}, iss);
    assert.equal(mi.san.value, `https://management.azure.com${c.xms_mirid as string}`);
    assert.deepEqual(
      { t: exts(mi).entraTenantId, o: exts(mi).entraObjectId, a: exts(mi).entraApplicationId },
      { t: tid, o: c.oid, a: c.azp },
    );
    const { xms_mirid: _, ...app } = c;
    assert.equal(
      map('entra', app, {}, iss).san.value,
      `https://login.microsoftonline.com/${tid}/applications/${c.azp as string}`,
    );
    const user = map(
      'entra',
      { sub: 'x', tid, oid: 'o', upn: 'alice@acme.test', appid: 'a' },
      {},
      `https://sts.windows.net/${tid}/`,
    );
    assert.deepEqual(user.san, { type: 'email', value: 'alice@acme.test' });
    assert.equal(user.challenge, 'x');
    assert.throws(
      () => map('entra', c, {}, 'https://login.microsoftonline.com/other-tenant/v2.0'),
      (e) => isVouchError(e, 'TOKEN_INVALID'),
    );
  });

  it('refuses claims a type cannot map (table)', () => {
    const gh = typeCase('github-workflow').claims;
    const rows: [string, IdentityRules['type'], Record<string, unknown>, Partial<IdentityRules>][] = [
      ['email missing', 'email', { email_verified: true }, {}],
      ['email with a comma', 'email', { email: 'a@b.test,c@d.test', email_verified: true }, {}],
      ['email non-ASCII', 'email', { email: 'd\u00e9v@b.test', email_verified: true }, {}],
      ['email lone surrogate', 'email', { email: 'a\ud800@b.test', email_verified: true }, {}],
      [
        'issuer claim absent',
        'email',
        { email: 'a@b.test', email_verified: true },
        { issuerClaim: '$.federated_claims.connector_id' },
      ],
      ['github claim object', 'github-workflow', { ...gh, repository: { a: 1 } }, {}],
      ['github newline in workflow name', 'github-workflow', { ...gh, workflow: 'x\n1.3.6.1.4.1.57264.1.9: evil' }, {}],
      ['github U+2028 in ref', 'github-workflow', { ...gh, ref: 'refs/heads/a\u2028b' }, {}],
      [
        'github comma in SAN',
        'github-workflow',
        { ...gh, job_workflow_ref: 'o/r/w.yml@main, URI:https://evil.test' },
        {},
      ],
      ['github space in SAN', 'github-workflow', { ...gh, job_workflow_ref: 'o/r/w w.yml@main' }, {}],
      ['kubernetes no namespace', 'kubernetes', { sub: 's', 'kubernetes.io': { serviceaccount: { name: 'x' } } }, {}],
      [
        'kubernetes slash',
        'kubernetes',
        { sub: 's', 'kubernetes.io': { namespace: 'a/b', serviceaccount: { name: 'x' } } },
        {},
      ],
      ['spiffe other domain', 'spiffe', { sub: 'spiffe://other.test/x' }, { spiffeTrustDomain: 'prod.acme.test' }],
      [
        'spiffe dot segment',
        'spiffe',
        { sub: 'spiffe://prod.acme.test/a/../b' },
        { spiffeTrustDomain: 'prod.acme.test' },
      ],
      ['spiffe query', 'spiffe', { sub: 'spiffe://prod.acme.test/a?b' }, { spiffeTrustDomain: 'prod.acme.test' }],
      ['uri other host', 'uri', { sub: 'https://evil.test/x' }, { subjectDomain: 'https://ci.acme.test' }],
      ['uri other scheme', 'uri', { sub: 'http://ci.acme.test/x' }, { subjectDomain: 'https://ci.acme.test' }],
      ['uri an email', 'uri', { sub: 'bot@ci.acme.test' }, { subjectDomain: 'https://ci.acme.test' }],
      ['username with !', 'username', { sub: 'a!b' }, { subjectDomain: 'acme.test' }],
      ['username an email', 'username', { sub: 'a@acme.test' }, { subjectDomain: 'acme.test' }],
      ['aws not an ARN', 'aws-iam', { sub: 'role/x' }, {}],
      [
        'aws account mismatch',
        'aws-iam',
        { sub: 'arn:aws:iam::123456789012:role/x', 'https://sts.amazonaws.com/': { aws_account: '999999999999' } },
        {},
      ],
      [
        'azure subject shape',
        'azure-pipelines',
        { sub: 'sc://a/b/c', def_id: '1', run_id: '1', org_id: 'o', prj_id: 'p' },
        {},
      ],
      ['entra nobody', 'entra', { sub: 's', tid: 't', oid: 'o', idtyp: 'app' }, {}],
    ];
    for (const [name, type, claims, rules] of rows) {
      assert.throws(
        () => map(type, claims, rules, type === 'entra' ? 'https://login.microsoftonline.com/t/v2.0' : ISS),
        (e) => isVouchError(e, 'TOKEN_INVALID'),
        name,
      );
    }
  });

  it('keeps a comma in a free-text extension whole: one extension, no second name', () => {
    const id = map('github-workflow', { ...typeCase('github-workflow').claims, workflow: 'Build, test, release' });
    assert.equal(exts(id).githubWorkflowName, 'Build, test, release');
    assert.equal(id.extensions.filter((e) => e.name === 'githubWorkflowName').length, 1);
  });
});

describe('against certificates the public Sigstore CA issued', () => {
  let dir: string;
  let ca: CertificateAuthority;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vouch-map-'));
    ca = new CertificateAuthority({
      material: await loadOrCreateAuthorities(dir, 'test', new Date()),
      tokens: new TokenVerifier([]),
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function realLeaf(name: string) {
    const bundle = JSON.parse(readFileSync(join(realbundlesDir(), 'cases', name, 'bundle.sigstore.json'), 'utf8'));
    const vm = bundle.verificationMaterial;
    const raw = vm.certificate?.rawBytes ?? vm.x509CertificateChain.certificates[0].rawBytes;
    return parseCertificate(Buffer.from(raw, 'base64'));
  }

  /** Issue our certificate for the same identity through the CA's encoder (the verifier of the token is bypassed). */
  async function ours(iss: string, claims: Record<string, unknown>, rules: IdentityRules) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tokens = {
      verify: async () => ({ issuer: iss, config: { ...rules, issuer: iss, audience: 'sigstore' }, claims }),
    };
    const id = mapIdentity(iss, claims, rules);
    const issued = await new CertificateAuthority({ material: ca.material, tokens: tokens as never }).issue('t', {
      kind: 'publicKey',
      publicKeyPem: key.publicKey.export({ format: 'pem', type: 'spki' }),
      proofOfPossession: sign('sha256', Buffer.from(id.challenge), key.privateKey).toString('base64'),
    });
    return parseCertificate(Buffer.from(issued.chain[0]!.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  }

  for (const name of ['prod-github-release-wheel-v0.2', 'prod-npm-provenance-sigstore-2.0.0', 'staging-rekor2-dsse']) {
    it(`GitHub Actions: ${name}`, async () => {
      const real = realLeaf(name);
      const e = fulcioExtensions(real).extensions;
      // The token claims the certificate was made from, read back from its values.
      const strip = (v: string) => v.replace(/^https:\/\/github\.com\//, '');
      const run = /\/actions\/runs\/(\d+)\/attempts\/(\d+)$/.exec(e.runInvocationURI!)!;
      const claims = {
        sub: 'repo:x/y:ref:refs/heads/main',
        event_name: e.githubWorkflowTrigger,
        sha: e.githubWorkflowSha,
        workflow: e.githubWorkflowName,
        repository: e.githubWorkflowRepository,
        ref: e.githubWorkflowRef,
        job_workflow_ref: strip(e.buildSignerURI!),
        job_workflow_sha: e.buildSignerDigest,
        runner_environment: e.runnerEnvironment,
        repository_id: e.sourceRepositoryIdentifier,
        repository_owner: strip(e.sourceRepositoryOwnerURI!),
        repository_owner_id: e.sourceRepositoryOwnerIdentifier,
        workflow_ref: strip(e.buildConfigURI!),
        workflow_sha: e.buildConfigDigest,
        run_id: run[1],
        run_attempt: run[2],
        repository_visibility: e.sourceRepositoryVisibilityAtSigning,
      };
      const mine = await ours(e.issuer!, claims, { type: 'github-workflow' });
      // Every identity extension of theirs, same OID, same bytes, same order; ours adds only .1.24 (newer Fulcio).
      const identityOids = (c: typeof real) => c.extensions.filter((x) => x.oid.startsWith('1.3.6.1.4.1.57264.1.'));
      const theirs = identityOids(real);
      const mineIds = identityOids(mine).filter((x) => x.oid !== '1.3.6.1.4.1.57264.1.24');
      assert.deepEqual(
        mineIds.map((x) => [x.oid, x.raw.toString('hex')]),
        theirs.map((x) => [x.oid, x.raw.toString('hex')]),
      );
      const san = (c: typeof real) => c.extensions.find((x) => x.oid === '2.5.29.17')!.raw.toString('hex');
      assert.equal(san(mine), san(real));
    });
  }

  it('username otherName SAN: custom-othername-san, byte for byte', async () => {
    const real = realLeaf('custom-othername-san');
    const mine = await ours(
      'http://oidc.local:8080',
      { sub: 'foo' },
      { type: 'username', subjectDomain: 'oidc.local' },
    );
    const pick = (c: typeof real, oid: string) => c.extensions.find((x) => x.oid === oid)!.raw.toString('hex');
    for (const oid of ['2.5.29.17', '1.3.6.1.4.1.57264.1.1', '1.3.6.1.4.1.57264.1.8'])
      assert.equal(pick(mine, oid), pick(real, oid));
  });

  it('email through Dex (issuer claim): staging-v0.3-email-identity', async () => {
    const real = realLeaf('staging-v0.3-email-identity');
    const claims = {
      email: real.san[0]!.value,
      email_verified: true,
      federated_claims: { connector_id: 'https://github.com/login/oauth', user_id: '1' },
    };
    const mine = await ours('https://oauth2.sigstage.dev/auth', claims, {
      type: 'email',
      issuerClaim: '$.federated_claims.connector_id',
    });
    const pick = (c: typeof real, oid: string) => c.extensions.find((x) => x.oid === oid)!.raw.toString('hex');
    for (const oid of ['2.5.29.17', '1.3.6.1.4.1.57264.1.1', '1.3.6.1.4.1.57264.1.8'])
      assert.equal(pick(mine, oid), pick(real, oid));
  });
});

describe('the CA encodes identity extensions as the schema library would', () => {
  it('byte for byte, for every extension every issuer type maps (the differential test of the hand encoder)', () => {
    let checked = 0;
    for (const c of TYPE_CASES) {
      const iss = c.type === 'entra' ? `https://login.microsoftonline.com/${c.claims.tid as string}/v2.0` : ISS;
      for (const e of mapIdentity(iss, c.claims, { type: c.type, ...c.rules }).extensions) {
        const d = CERTIFICATE_EXTENSIONS.find((x) => x.name === e.name)!;
        const value = d.encoding === 'raw' ? Buffer.from(e.value) : new asn1js.Utf8String({ value: e.value }).toBER();
        const lib = AsnConvert.serialize(
          new asnX509.Extension({ extnID: d.oid, critical: false, extnValue: new OctetString(value) }),
        );
        assert.equal(identityExtensionDer(e).toString('hex'), Buffer.from(lib).toString('hex'), `${c.type} ${e.name}`);
        checked++;
      }
    }
    assert.ok(checked > 60);
  });
});
