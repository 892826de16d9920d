/**
 * Releases signed by GitHub Actions workflows, for policy tests: a vouch stack in this process whose CA accepts
 * GitHub's issuer URL (`https://token.actions.githubusercontent.com`, type github-workflow, its keys given directly
 * as a CA is given a JWKS), tokens with GitHub's claims (names and shapes from GitHub's OIDC documentation, as in
 * identity-claims.ts) signed with a local key, and real bundles: certificate with the GitHub extensions, log entry,
 * timestamp. What a verifier sees is what it sees of a real release but the trusted root.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { StaticTokenProvider } from '../../src/identity/providers.ts';
import { selectServices } from '../../src/instance/signingconfig.ts';
import { type Stack, startStack } from '../../src/server/stack.ts';
import { signDigest } from '../../src/sign/bundle.ts';
import { FulcioClient } from '../../src/sign/fulcio.ts';
import { keylessContext } from '../../src/sign/keyless.ts';
import { loadTrustedRoot, type TrustMaterial } from '../../src/verify/trust.ts';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** The claims of a tag-push release workflow of acme/app (ids as GitHub gives them: decimal strings). */
export function releaseClaims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const repository = (over.repository as string) ?? 'acme/app';
  const ref = (over.ref as string) ?? 'refs/tags/v1.4.2';
  const workflow = (over.workflowFile as string) ?? 'release.yml';
  const { workflowFile: _w, ...rest } = over;
  return {
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_id: '123456789',
    repository_owner: repository.split('/')[0],
    repository_owner_id: '4242',
    repository_visibility: 'public',
    actor: 'octocat',
    workflow: 'Release',
    workflow_ref: `${repository}/.github/workflows/${workflow}@${ref}`,
    workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    job_workflow_ref: `${repository}/.github/workflows/${workflow}@${ref}`,
    job_workflow_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    ref,
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    event_name: 'push',
    run_id: '9876543210',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    ...rest,
  };
}

export interface GitHubCa {
  stack: Stack;
  trustedRootJson: string;
  trust: TrustMaterial;
  /** A bundle (JSON text) over `artifact`, signed as the workflow these claims describe. */
  sign(artifact: Buffer, claims: Record<string, unknown>): Promise<string>;
  /** A GitHub Actions token with these claims, for signing through other paths (images). */
  mintGitHub(claims: Record<string, unknown>): Promise<string>;
  /** A bundle signed by a person's e-mail identity at another issuer the CA trusts. */
  signAsPerson(artifact: Buffer, email: string): Promise<string>;
  close(): Promise<void>;
}

export const PERSON_ISSUER = 'https://accounts.example.test';

export async function startGitHubCa(): Promise<GitHubCa> {
  const dir = mkdtempSync(join(tmpdir(), 'vouch-gh-ca-'));
  const keys = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(keys.publicKey)), kid: 'gh-1', alg: 'RS256', use: 'sig' };
  const stack = await startStack({
    dataDir: join(dir, 'stack'),
    port: 0,
    services: { oidc: false },
    issuers: [
      { issuer: GITHUB_ISSUER, type: 'github-workflow', jwks: { keys: [jwk] } },
      { issuer: PERSON_ISSUER, type: 'email', jwks: { keys: [jwk] } },
    ],
  });
  const services = selectServices(stack.signingConfig);
  const mint = (issuer: string, claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'gh-1', typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience('sigstore')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 300)
      .sign(keys.privateKey);
  };
  const signWith = async (artifact: Buffer, token: string) => {
    const ctx = keylessContext(new StaticTokenProvider(token), {
      ca: new FulcioClient(services.ca),
      tlog: services.tlog,
      ...(services.tsa ? { tsa: services.tsa } : {}),
    });
    const bundle = await signDigest(ctx, createHash('sha256').update(artifact).digest(), artifact);
    return JSON.stringify(bundle);
  };
  const trustedRootJson = JSON.stringify(stack.trustedRoot);
  return {
    stack,
    trustedRootJson,
    trust: loadTrustedRoot(trustedRootJson),
    sign: async (artifact, claims) => signWith(artifact, await mint(GITHUB_ISSUER, claims)),
    mintGitHub: (claims) => mint(GITHUB_ISSUER, claims),
    signAsPerson: async (artifact, email) =>
      signWith(artifact, await mint(PERSON_ISSUER, { sub: `person-${email}`, email, email_verified: true })),
    close: async () => {
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
