/**
 * A Kubernetes cluster's service-account issuer (kube-apiserver: discovery at the issuer, JWKS at /openid/v1/jwks,
 * RS256) and the projected token file the kubelet writes into a pod.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeIssuer, startIssuer } from './fake-issuer.ts';

export interface FakeKubernetes extends FakeIssuer {
  /** Write a projected token for `aud` and return its path. */
  project(aud: string, name?: string): Promise<string>;
}

export async function startKubernetes(): Promise<FakeKubernetes> {
  const fake = (await startIssuer({ jwksPath: '/openid/v1/jwks' })) as FakeKubernetes;
  const dir = mkdtempSync(join(tmpdir(), 'vouch-fake-k8s-'));
  fake.project = async (aud, name = 'token') => {
    const path = join(dir, name);
    const token = await fake.mint({
      aud: [aud],
      sub: 'system:serviceaccount:release:signer',
      'kubernetes.io': {
        namespace: 'release',
        pod: { name: 'signer-7d9f', uid: '1b2c' },
        serviceaccount: { name: 'signer', uid: '3d4e' },
      },
    });
    writeFileSync(path, token, { mode: 0o600 });
    return path;
  };
  const close = fake.close;
  fake.close = async () => {
    rmSync(dir, { recursive: true, force: true });
    await close();
  };
  return fake;
}
