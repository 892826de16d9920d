/**
 * Images under a policy: every signature attached to the digest (here, referrers stored in an OCI layout) is
 * verified and bound to the image on its own, then the policy decides over the verified signers. A keyless
 * pipeline signature and a release manager's key signature, each attached by `signImage` as vouch sign does.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { stringify } from 'yaml';
import { MEDIA } from '../../src/artifact/oci/manifest.ts';
import { parseTarget } from '../../src/artifact/target.ts';
import { isVouchError } from '../../src/errors.ts';
import { StaticTokenProvider } from '../../src/identity/providers.ts';
import { selectServices } from '../../src/instance/signingconfig.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import { FulcioClient } from '../../src/sign/fulcio.ts';
import { keylessContext } from '../../src/sign/keyless.ts';
import { KeyPairSigner } from '../../src/sign/signer.ts';
import { signImage } from '../../src/workflow/sign-image.ts';
import { type PolicyVerifyFailure, verifyWithPolicy } from '../../src/workflow/verify-policy.ts';
import { tempDir } from '../helpers/cli.ts';
import { GITHUB_ISSUER, type GitHubCa, releaseClaims, startGitHubCa } from '../helpers/github-release.ts';
import { buildImage } from '../oci/helpers.ts';

const REPO = 'registry.example/acme/app';
const tmp = tempDir('vouch-policy-image-');
const layout = join(tmp.path, 'layout');
let ca: GitHubCa;
const rm = KeyPairSigner.ephemeral();
const rmPem = rm.publicKeyPem;

before(async () => {
  ca = await startGitHubCa();
  const image = buildImage(1, 'policy');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  for (const b of [...image.blobs, image.config, image.manifest]) {
    writeFileSync(join(layout, 'blobs', 'sha256', createHash('sha256').update(b).digest('hex')), b);
  }
  const entry = {
    mediaType: MEDIA.ociManifest,
    digest: `sha256:${createHash('sha256').update(image.manifest).digest('hex')}`,
    size: image.manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': 'v1' },
  };
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [entry] }),
  );
});

after(async () => {
  await ca?.close();
  tmp.dispose();
});

const policy = () =>
  parsePolicy(
    stringify({
      apiVersion: 'vouch.dev/policy/v1',
      signers: {
        ci: {
          identity: { glob: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v*' },
          issuer: GITHUB_ISSUER,
        },
        rm: { key: rmPem },
      },
      require: { allOf: ['ci', 'rm'] },
      artifacts: [{ kind: 'image', name: 'registry.example/acme/*', require: { allOf: ['ci', 'rm'] } }],
    }),
    'image.policy.yaml',
  );

async function check() {
  try {
    const r = await verifyWithPolicy(`oci-layout:${layout}:v1`, {
      policy: policy(),
      trust: [{ name: 'acme', material: ca.trust }],
      image: { repository: REPO },
    });
    return { ok: true, evaluation: r.evaluation };
  } catch (e) {
    if (!isVouchError(e, 'POLICY_NOT_SATISFIED')) throw e;
    return { ok: false, evaluation: (e.details as PolicyVerifyFailure).evaluation };
  }
}

it('every signature of the image counts: the pipeline alone is not enough, with the release manager it is', async () => {
  const services = selectServices(ca.stack.signingConfig);
  const token = await ca.mintGitHub(releaseClaims());
  const keyless = keylessContext(new StaticTokenProvider(token), {
    ca: new FulcioClient(services.ca),
    tlog: services.tlog,
    ...(services.tsa ? { tsa: services.tsa } : {}),
  });
  await signImage(parseTarget(`oci-layout:${layout}:v1`), keyless, { repository: REPO });
  const one = await check();
  assert.equal(one.ok, false);
  assert.equal(one.evaluation.artifactRule, 'artifacts[0]');
  assert.equal(one.evaluation.signatures.length, 1);

  await signImage(parseTarget(`oci-layout:${layout}:v1`), { signer: rm, witnesses: [] }, { repository: REPO });
  const both = await check();
  assert.equal(both.ok, true, JSON.stringify(both.evaluation, null, 1));
  assert.equal(both.evaluation.signatures.length, 2);
  assert.ok(both.evaluation.signatures.every((s) => s.verified));
});

it('a signature for another repository is reported, and counts for nothing', async () => {
  // The release manager's own key, but a signature made for another repository.
  await signImage(
    parseTarget(`oci-layout:${layout}:v1`),
    { signer: rm, witnesses: [] },
    { repository: 'registry.example/evil/app' },
  );
  const r = await check();
  assert.equal(r.ok, true);
  const refused = r.evaluation.signatures.filter((s) => !s.verified);
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.error!.code, 'REPOSITORY_MISMATCH');
});
