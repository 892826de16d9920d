/** `vouch policy init | check | pin`: pin the signers of a known-good release, validate a policy, pin a policy URL. */
import { stringify } from 'yaml';
import { pinPolicy, readPolicySource } from '../../instance/policies.ts';
import { type PolicyDocument, policyFromSignatures } from '../../policy/init.ts';
import { parsePolicy } from '../../policy/load.ts';
import { walkRules } from '../../policy/rules.ts';
import { readKeyFile } from '../../sign/keys.ts';
import { loadNamedTrust, loadTrust } from '../../workflow/verify.ts';
import { verifyBundleAlone } from '../../workflow/verify-policy.ts';

export interface PolicyInitOptions {
  from: string[];
  threshold?: number;
  key?: string[];
  trustedRoot?: string;
}

/** The strictest policy the given bundles' signers meet; each bundle is verified first (never pin a forgery). */
export async function policyInit(o: PolicyInitOptions): Promise<{ document: PolicyDocument; yaml: string }> {
  const keys = await Promise.all((o.key ?? []).map(async (k) => ({ spki: await readKeyFile(k) })));
  const trust = o.trustedRoot
    ? await loadTrust({ trustedRoot: o.trustedRoot })
    : loadNamedTrust().map((t) => t.material);
  const signatures = [];
  for (const path of o.from) {
    const { result, keyPem } = await verifyBundleAlone(path, { keys, trust });
    signatures.push({ signer: result.signer, source: path, ...(keyPem ? { keyPem } : {}) });
  }
  const document = policyFromSignatures(signatures, o.threshold !== undefined ? { threshold: o.threshold } : {});
  const yaml = `# yaml-language-server: $schema=https://github.com/vouch/vouch/blob/main/docs/schemas/policy.schema.json\n${stringify(document, { lineWidth: 0 })}`;
  // What we write must load: the same checks as every policy (and a bug here must not produce a policy that cannot).
  parsePolicy(yaml, 'the generated policy');
  return { document, yaml };
}

export interface PolicyCheckResult {
  source: string;
  digest: string;
  signers: { name: string; kind: 'keyless' | 'key' }[];
  rules: number;
  artifacts: number;
  dependencies: boolean;
}

export async function policyCheck(file: string, o: { policyDigest?: string }): Promise<PolicyCheckResult> {
  const p = await readPolicySource(file, o.policyDigest !== undefined ? { digest: o.policyDigest } : {});
  const policy = parsePolicy(p.text, p.source);
  return {
    source: p.source,
    digest: policy.digest,
    signers: [...policy.signers.values()].map((s) => ({ name: s.name, kind: s.kind })),
    rules:
      walkRules(policy.require).length +
      policy.artifacts.reduce(
        (n, a) =>
          n +
          (a.require ? walkRules(a.require).length : 0) +
          a.paths.reduce((m, x) => m + walkRules(x.require).length, 0),
        0,
      ),
    artifacts: policy.artifacts.length,
    dependencies: policy.dependencies !== undefined,
  };
}

export function formatPolicyCheck(r: PolicyCheckResult): string {
  const signers = r.signers.map((s) => `${s.name} (${s.kind})`).join(', ');
  return `Policy OK: ${r.source} (${r.digest})\n  signers    ${signers}\n  rules      ${r.rules}${r.artifacts ? `, ${r.artifacts} artifact entries` : ''}${r.dependencies ? '\n  dependencies section present' : ''}\n`;
}

export async function policyPin(url: string, o: { policyDigest: string }): Promise<{ url: string; digest: string }> {
  const p = await pinPolicy(url, o.policyDigest);
  // A pinned policy must be one that loads.
  parsePolicy(p.text, p.source);
  return { url, digest: p.digest };
}
